"""Dashboard sessions: signed, expiring cookies bound to an auditor or admin API token.

The cookie is `<token id>.<expiry (unix seconds)>.<mac>`, the MAC an HMAC-SHA256 keyed with the
token's stored digest. The raw token is seen once, at sign-in, and never stored or put in a URL.
Nothing is kept in the process, so any collector process behind a load balancer accepts the
cookie; revoking the token ends its sessions at once (the token must still be valid on every
request). Cookies are HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS.

Forms (sign-in, sign-out) carry a CSRF token that must equal a SameSite=Strict cookie
(double submit): a cross-site form cannot send that cookie, so it cannot sign anyone in or out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.store.credentials import Hasher, Role, resolve_bearer
from collector.store.models import ApiToken

SESSION_COOKIE = "fleetward_ui"
CSRF_COOKIE = "fleetward_ui_csrf"
SESSION_LIFETIME = timedelta(hours=8)
_READERS = (Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Viewer:
    token_id: str
    name: str
    role: Role


def _mac(digest: str, token_id: str, expires: int) -> str:
    message = f"fleetward-ui-session:{token_id}:{expires}".encode()
    return hmac.new(digest.encode(), message, hashlib.sha256).hexdigest()


def sign_in(session: Session, hasher: Hasher, token: str, now: datetime) -> tuple[str, Viewer] | None:
    """A session cookie value for a valid auditor or admin token; None otherwise."""
    principal = resolve_bearer(session, hasher, token.strip())
    if principal is None or principal.role not in _READERS:
        return None
    row = session.get(ApiToken, principal.subject)
    if row is None:
        return None
    expires = int((now + SESSION_LIFETIME).timestamp())
    value = f"{row.id}.{expires}.{_mac(row.digest, row.id, expires)}"
    return value, Viewer(row.id, row.name, Role(row.role))


def viewer_of(session: Session, cookie: str | None, now: datetime) -> Viewer | None:
    if not cookie or cookie.count(".") != 2:
        return None
    token_id, expires_text, mac = cookie.split(".")
    # ASCII digits of a plausible length only: int() of "²" or of 5,000 digits raises.
    if not (expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 12):
        return None
    if int(expires_text) < now.timestamp():
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.id == token_id))
    if row is None or row.revoked_at is not None or Role(row.role) not in _READERS:
        return None
    if not hmac.compare_digest(mac, _mac(row.digest, row.id, int(expires_text))):
        return None
    return Viewer(row.id, row.name, Role(row.role))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    return bool(cookie) and bool(submitted) and hmac.compare_digest(str(cookie), str(submitted))
