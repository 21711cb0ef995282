"""Rendering of stored rows as API bodies, shared by routers."""

from __future__ import annotations

from collector.api.schemas import EnrollSecretInfo, TokenInfo, WaiverInfo
from collector.store.models import ApiToken, EnrollSecret, Waiver


def waiver_info(w: Waiver) -> WaiverInfo:
    return WaiverInfo(
        id=w.id,
        policy_id=w.policy_id,
        device_id=w.device_id,
        practice=w.practice,
        justification=w.justification,
        owner=w.owner,
        granted_at=w.granted_at,
        granted_by=w.granted_by,
        expires_at=w.expires_at,
        revoked_at=w.revoked_at,
        revoked_by=w.revoked_by,
    )


def token_info(t: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=t.id,
        name=t.name,
        role=t.role,
        created_at=t.created_at,
        created_by=t.created_by,
        revoked_at=t.revoked_at,
        revoked_by=t.revoked_by,
    )


def secret_info(s: EnrollSecret) -> EnrollSecretInfo:
    return EnrollSecretInfo(
        id=s.id,
        name=s.name,
        practice=s.practice,
        created_at=s.created_at,
        created_by=s.created_by,
        expires_at=s.expires_at,
        revoked_at=s.revoked_at,
        revoked_by=s.revoked_by,
        max_uses=s.max_uses,
        uses=s.uses,
    )
