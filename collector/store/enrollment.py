"""Enrollment: an enroll secret plus a host identity buys a per-device key.

The same hardware (osquery `system_info.uuid`) enrolling again keeps its device id and history;
its old keys are revoked, so a wiped-and-reinstalled laptop carries on where it left off and a
copy of the old key stops working. Because that takes over the device id, re-enrolment needs a
secret of the device's own practice, and is recorded as a `reenrolled` event on the device.

A secret bound to a practice tags every device it enrols with that practice (whatever the host
claims), and makes at most `max_uses` enrolments (re-enrolments count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from collector.errors import Forbidden, Unauthorized
from collector.store.credentials import DEVICE_KEY_PREFIX, Hasher, new_credential, usable_enroll_secret
from collector.store.ids import ids_of
from collector.store.models import AgentEventRow, Device, DeviceKey, EnrollSecret
from fleetward.wire import EnrollRequest, ErrorCode


@dataclass(frozen=True)
class Enrolled:
    device_id: str
    device_key: str  # shown once
    reenrolled: bool


REENROLLED_EVENT = "reenrolled"


def enroll(session: Session, hasher: Hasher, request: EnrollRequest, *, now: datetime) -> Enrolled:
    secret = usable_enroll_secret(session, hasher, request.enroll_secret, now)
    host = request.host
    practice = secret.practice or host.practice  # a practice secret's practice, whatever the host says
    device = session.execute(
        select(Device).where(Device.hardware_uuid == host.uuid).with_for_update()
    ).scalar_one_or_none()
    reenrolled = device is not None
    if device is not None and device.practice is not None and secret.practice != device.practice:
        raise Forbidden(
            f"this hardware is enrolled in practice {device.practice!r}: enrolling it again takes over its "
            "record, so it needs an enroll secret of that practice",
            code=ErrorCode.ENROLL_PRACTICE_MISMATCH,
            detail={"device_id": device.id},
        )
    _count_use(session, secret)
    if device is None:
        device = Device(id=str(ids_of(session).uuid()), hardware_uuid=host.uuid, enrolled_at=now)
        session.add(device)
    else:
        session.add(
            AgentEventRow(
                device_id=device.id,
                report_id="",
                kind=REENROLLED_EVENT,
                at=now,
                message=f"enrolled again with enroll secret {secret.id} ({secret.name or 'unnamed'}); "
                "its previous device keys were revoked",
                detail={
                    "enroll_secret_id": secret.id,
                    "previous_enrollment": (device.last_enrolled_at or device.enrolled_at).isoformat(),
                },
            )
        )
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


def _count_use(session: Session, secret: EnrollSecret) -> None:
    # One statement, so two enrolments at once cannot both take the last use.
    counted = cast(
        CursorResult[Any],
        session.execute(
            update(EnrollSecret)
            .where(
                EnrollSecret.id == secret.id,
                or_(EnrollSecret.max_uses.is_(None), EnrollSecret.uses < EnrollSecret.max_uses),
            )
            .values(uses=EnrollSecret.uses + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if counted.rowcount != 1:
        raise Unauthorized(
            f"the enroll secret has made all the {secret.max_uses} enrolments it allows; ask an administrator "
            "for a new one",
            code=ErrorCode.ENROLL_SECRET_INVALID,
        )
