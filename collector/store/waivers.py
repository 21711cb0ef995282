"""Waivers: exceptions granted by an admin, never deleted; revoking one only closes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from collector.domain.state import Waiver as WaiverRecord
from collector.errors import Invalid, NotFound
from collector.store.credentials import new_id
from collector.store.models import Device, Policy, Waiver


def grant_waiver(
    session: Session,
    *,
    policy_id: str,
    device_id: str | None,
    practice: str | None,
    justification: str,
    owner: str,
    expires_at: datetime,
    now: datetime,
    granted_by: str,
) -> Waiver:
    if (device_id is None) == (practice is None):
        raise Invalid(
            "a waiver covers either one device (device_id) or one practice (practice), not both or neither",
            detail={"device_id": device_id, "practice": practice},
        )
    if expires_at <= now:
        raise Invalid("a waiver must expire in the future", detail={"expires_at": expires_at.isoformat()})
    if session.get(Policy, policy_id) is None:
        raise NotFound("policy", policy_id)
    if device_id is not None and session.get(Device, device_id) is None:
        raise NotFound("device", device_id)
    row = Waiver(
        id=new_id(session, "wvr"),
        policy_id=policy_id,
        device_id=device_id,
        practice=practice,
        justification=justification,
        owner=owner,
        granted_at=now,
        granted_by=granted_by,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def revoke_waiver(session: Session, waiver_id: str, *, now: datetime, by: str) -> Waiver:
    row = session.get(Waiver, waiver_id)
    if row is None:
        raise NotFound("waiver", waiver_id)
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, by
    return row


def list_waivers(
    session: Session,
    *,
    device_id: str | None = None,
    practice: str | None = None,
    policy_id: str | None = None,
) -> list[Waiver]:
    query = select(Waiver).order_by(Waiver.granted_at, Waiver.id)
    if device_id is not None:
        device = session.get(Device, device_id)
        covers = [Waiver.device_id == device_id]
        if device is not None and device.practice:
            covers.append(Waiver.practice == device.practice)
        query = query.where(or_(*covers))
    if practice is not None:
        query = query.where(Waiver.practice == practice)
    if policy_id is not None:
        query = query.where(Waiver.policy_id == policy_id)
    return list(session.scalars(query))


def as_record(row: Waiver) -> WaiverRecord:
    return WaiverRecord(
        id=row.id,
        policy_id=row.policy_id,
        justification=row.justification,
        owner=row.owner,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        device_id=row.device_id,
        practice=row.practice,
        revoked_at=row.revoked_at,
        granted_by=row.granted_by,
    )
