"""Dashboard sessions: held server-side, so signing out (or revoking the token) ends them.

The cookie is `<session id>.<mac>`: a random id and an HMAC-SHA256 of it keyed with the server's
session secret (`CollectorSettings.ui_session_secret`), which is not in the database. The
database keeps only a hash of the id (`ui_sessions.id_digest`), the token it belongs to and
when it expires or ended: a copy of the database can forge no cookie, and a cookie is only good
while its row says so. The raw API token is seen once, at sign-in, and never stored or put in a
URL. Every collector process sharing the secret and the database accepts the cookie. Cookies are
HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS.

Forms (sign-in, sign-out) carry a CSRF token that must equal a SameSite=Strict cookie
(double submit): a cross-site form cannot send that cookie, so it cannot sign anyone in or out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from collector.store.credentials import Hasher, Role, resolve_bearer
from collector.store.models import ApiToken, UiSession

SESSION_COOKIE = "fleetward_ui"
CSRF_COOKIE = "fleetward_ui_csrf"
SESSION_LIFETIME = timedelta(hours=8)
_READERS = (Role.AUDITOR, Role.ADMIN)
_COOKIE = re.compile(r"^([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$")


@dataclass(frozen=True)
class Viewer:
    token_id: str
    name: str
    role: Role


def _mac(secret: bytes, session_id: str) -> str:
    return hmac.new(secret, f"fleetward-ui-session:{session_id}".encode(), hashlib.sha256).hexdigest()


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def sign_in(
    session: Session, hasher: Hasher, token: str, now: datetime, secret: bytes
) -> tuple[str, Viewer] | None:
    """A new session's cookie value for a valid auditor or admin token; None otherwise."""
    principal = resolve_bearer(session, hasher, token.strip())
    if principal is None or principal.role not in _READERS:
        return None
    row = session.get(ApiToken, principal.subject)
    if row is None:
        return None
    session_id = secrets.token_urlsafe(32)
    session.add(
        UiSession(
            id_digest=_digest(session_id), token_id=row.id, created_at=now, expires_at=now + SESSION_LIFETIME
        )
    )
    session.flush()
    return f"{session_id}.{_mac(secret, session_id)}", Viewer(row.id, row.name, Role(row.role))


def _session_row(session: Session, cookie: str | None, secret: bytes) -> UiSession | None:
    match = _COOKIE.match(cookie or "")
    if match is None or not hmac.compare_digest(match.group(2), _mac(secret, match.group(1))):
        return None
    return session.get(UiSession, _digest(match.group(1)))


def viewer_of(session: Session, cookie: str | None, now: datetime, secret: bytes) -> Viewer | None:
    row = _session_row(session, cookie, secret)
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    token = session.get(ApiToken, row.token_id)
    if token is None or token.revoked_at is not None or Role(token.role) not in _READERS:
        return None
    return Viewer(token.id, token.name, Role(token.role))


def sign_out(session: Session, cookie: str | None, now: datetime, secret: bytes) -> bool:
    """End the cookie's session for good; False when it named none."""
    row = _session_row(session, cookie, secret)
    if row is None:
        return False
    session.execute(
        update(UiSession)
        .where(UiSession.id_digest == row.id_digest, UiSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return True


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    return bool(cookie) and bool(submitted) and hmac.compare_digest(str(cookie), str(submitted))
