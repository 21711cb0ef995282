"""Credentials a deployment hands the collector out of band (e.g. from Key Vault through the environment).

The platform team's stack stores an enroll secret in Key Vault and the collector receives it as
``FLEETWARD_BOOTSTRAP_ENROLL_SECRET``; laptops configured with it must be able to enrol on the first day.
Registration is idempotent by digest: the first start records it with its expiry, later starts leave it
alone (and a revoked one stays revoked).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.store.credentials import Hasher, new_id
from collector.store.models import EnrollSecret

BOOTSTRAP_ACTOR = "bootstrap"


def register_enroll_secret(
    session: Session, hasher: Hasher, *, secret: str, validity: timedelta, now: datetime
) -> bool:
    """Make sure the out-of-band enroll secret exists; True when it was registered just now."""
    digest = hasher.digest(secret)
    if session.scalar(select(EnrollSecret.id).where(EnrollSecret.digest == digest)) is not None:
        return False
    session.add(
        EnrollSecret(
            id=new_id(session, "sec"),
            name=BOOTSTRAP_ACTOR,
            digest=digest,
            practice=None,
            created_at=now,
            created_by=BOOTSTRAP_ACTOR,
            expires_at=now + validity,
        )
    )
    return True
