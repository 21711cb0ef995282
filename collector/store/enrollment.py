"""Enrollment: an enroll secret plus a host identity buys a per-device key.

The same hardware (osquery `system_info.uuid`) enrolling again keeps its device id and history;
its old keys are revoked, so a wiped-and-reinstalled laptop carries on where it left off and a
copy of the old key stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from collector.store.credentials import DEVICE_KEY_PREFIX, Hasher, new_credential, usable_enroll_secret
from collector.store.ids import ids_of
from collector.store.models import Device, DeviceKey
from fleetward.wire import EnrollRequest


@dataclass(frozen=True)
class Enrolled:
    device_id: str
    device_key: str  # shown once
    reenrolled: bool


def enroll(session: Session, hasher: Hasher, request: EnrollRequest, *, now: datetime) -> Enrolled:
    secret = usable_enroll_secret(session, hasher, request.enroll_secret, now)
    host = request.host
    practice = secret.practice or host.practice
    device = session.execute(
        select(Device).where(Device.hardware_uuid == host.uuid).with_for_update()
    ).scalar_one_or_none()
    reenrolled = device is not None
    if device is None:
        device = Device(id=str(ids_of(session).uuid()), hardware_uuid=host.uuid, enrolled_at=now)
        session.add(device)
    else:
        device.last_enrolled_at = now
        session.execute(
            update(DeviceKey)
            .where(DeviceKey.device_id == device.id, DeviceKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    device.hardware_serial = host.hardware_serial
    device.hostname = host.hostname
    device.platform = host.platform.value
    device.os_name = host.os_name
    device.os_version = host.os_version
    device.practice = practice
    device.agent_version = request.agent_version
    device.enroll_secret_id = secret.id
    session.flush()
    key = new_credential(DEVICE_KEY_PREFIX)
    session.add(DeviceKey(device_id=device.id, digest=hasher.digest(key), created_at=now))
    session.flush()
    return Enrolled(device.id, key, reenrolled)
