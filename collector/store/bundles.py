"""Every policy bundle ever published, kept whole: the newest is served to agents, and the list
tells auditors which bundle was in force when.

Publishing checks what the collector can check without the private key: the document's shape,
the content digest, that it carries a catalogue that loads, that it is signed by a key this
collector trusts (`FLEETWARD_TRUSTED_BUNDLE_KEYS`), and that its version moves forward but not
absurdly far (`latest_allowed_version`). A collector with no trusted bundle keys refuses every
bundle (`bundle_trust_not_configured`): bundles define policies, and only a verified signer may.
Agents verify the signature again themselves against their own trusted keys.

Only bundles vouched for here are served and adopted (`newest_bundle`), and at startup the
newest one's definitions are adopted only if its signature still verifies against the keys now
trusted: a bundle stored by an older collector that checked no signer stays in the audit trail,
and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.domain.fleet import BundleRecord
from collector.errors import Conflict, Invalid
from collector.store.models import Base
from collector.store.policies import register_catalogue
from collector.store.types import JSONDocument, UTCDateTime
from fleetward.bundle.document import (
    Bundle,
    check_content_digest,
    parse_bundle,
    verify_bundle,
    version_from_instant,
)
from fleetward.bundle.errors import BundleDigestError, BundleError, BundleSignatureError
from fleetward.bundle.files import catalogue_from_files, content_files
from fleetward.bundle.keys import PublicKey
from fleetward.errors import PolicyError
from fleetward.policy.catalogue import Catalogue
from fleetward.wire import ErrorCode

NO_TRUSTED_KEYS = (
    "this collector has no trusted bundle keys, so it publishes no bundle: set "
    "FLEETWARD_TRUSTED_BUNDLE_KEYS to the platform team's public key (`fleetward policies bundle keygen` "
    "prints it) and restart the collector; see docs/policy-bundles.md"
)
# How far past the collector's clock a version may be in the default scheme (YYYYMMDDhhmmss).
VERSION_HEADROOM = timedelta(days=1)


def latest_allowed_version(now: datetime) -> int:
    """The highest version publishable now: the default scheme's value one day ahead. Counters
    (1, 2, 3...) and creation-instant versions fit; a typo or a clock years ahead, which would
    block every later bundle, does not."""
    return version_from_instant(now + VERSION_HEADROOM)


class PolicyBundle(Base):
    """One published bundle. Never updated or deleted: the audit trail of what laptops were sent."""

    __tablename__ = "policy_bundles"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(200))
    signer_key_ids: Mapped[list[str]] = mapped_column(JSONDocument())
    vouched_by: Mapped[str | None] = mapped_column(String(64))  # the trusted key that verified it here
    policy_count: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)  # the signed bundle, canonical JSON, byte for byte


@dataclass(frozen=True)
class Published:
    row: PolicyBundle
    already: bool  # the very same bundle was published before: nothing changed
    note: str | None


def check_publishable(bundle: Bundle, trusted: Sequence[PublicKey]) -> tuple[Catalogue, str]:
    """What a bundle must be before it is stored; returns its catalogue and the vouching key id.
    Raises Invalid with a stable code naming what is wrong."""
    try:
        check_content_digest(bundle)
    except BundleDigestError as exc:
        raise Invalid(str(exc), code=ErrorCode.BUNDLE_DIGEST_MISMATCH) from exc
    if not bundle.signatures:
        raise Invalid(
            f"bundle {bundle.version} is not signed; sign it with `fleetward policies bundle sign --key KEY` "
            "on the machine that holds the platform team's key",
            code=ErrorCode.BUNDLE_UNSIGNED,
        )
    if not trusted:
        raise Conflict(NO_TRUSTED_KEYS, code=ErrorCode.BUNDLE_TRUST_NOT_CONFIGURED)
    try:
        vouched_by = verify_bundle(bundle, trusted).key_id
    except BundleSignatureError as exc:
        raise Invalid(str(exc), code=ErrorCode.BUNDLE_SIGNATURE_INVALID) from exc
    try:
        catalogue = catalogue_from_files(content_files(bundle.content))
    except (BundleError, PolicyError) as exc:
        raise Invalid(
            f"bundle {bundle.version} does not carry a catalogue that loads: {exc}; run "
            "`fleetward policies lint` and build it again",
            code=ErrorCode.BUNDLE_INVALID,
        ) from exc
    return catalogue, vouched_by


def publish_bundle(
    session: Session, bundle: Bundle, trusted: Sequence[PublicKey], *, now: datetime, by: str
) -> Published:
    """Store a bundle newer than every stored one and register its policies, in one transaction."""
    catalogue, vouched_by = check_publishable(bundle, trusted)
    digest = bundle.digest
    existing = session.get(PolicyBundle, bundle.version)
    if existing is not None and existing.digest == digest:
        return Published(existing, already=True, note="this bundle was already published; nothing changed")
    limit = latest_allowed_version(now)
    if bundle.version > limit:
        raise Invalid(
            f"bundle {bundle.version} is too far ahead: versions go up to {limit} today (the creation "
            "instant YYYYMMDDhhmmss, a day ahead at most, or a small counter); a version beyond it would "
            "block every later bundle. Build it again with --version at most that, or the default",
            code=ErrorCode.BUNDLE_VERSION_TOO_FAR,
            detail={"latest_allowed_version": limit},
        )
    newest = newest_bundle(session)
    if newest is not None and bundle.version <= newest.version:
        raise Conflict(
            f"bundle {bundle.version} is not newer than bundle {newest.version} published at "
            f"{newest.published_at.isoformat()}; agents never move back. Build it again with a higher "
            "--version",
            code=ErrorCode.BUNDLE_NOT_NEWER,
            detail={"newest_version": newest.version},
        )
    row = PolicyBundle(
        version=bundle.version,
        digest=digest,
        created_at=bundle.manifest.created_at,
        published_at=now,
        published_by=by,
        signer_key_ids=[s.key_id for s in bundle.signatures],
        vouched_by=vouched_by,
        policy_count=len(catalogue.policies),
        document=bundle.to_bytes().decode("utf-8"),
    )
    session.add(row)
    register_catalogue(session, catalogue.policies, now)
    session.flush()
    return Published(row, already=False, note=None)


def newest_bundle(session: Session, published_by: datetime | None = None) -> PolicyBundle | None:
    """The newest bundle vouched for by a trusted key here: the one served and in force (or the
    one that was, among those published by `published_by`)."""
    query = select(func.max(PolicyBundle.version)).where(PolicyBundle.vouched_by.is_not(None))
    if published_by is not None:
        query = query.where(PolicyBundle.published_at <= published_by)
    newest = session.scalar(query)
    return None if newest is None else session.get(PolicyBundle, newest)


def list_bundles(session: Session) -> list[PolicyBundle]:
    return list(session.scalars(select(PolicyBundle).order_by(PolicyBundle.version)))


def bundle_records(session: Session) -> tuple[BundleRecord, ...]:
    """What reports name as "bundles in force" (`FleetHistory.bundles`)."""
    rows = session.execute(
        select(
            PolicyBundle.version, PolicyBundle.digest, PolicyBundle.published_at, PolicyBundle.created_at
        ).order_by(PolicyBundle.version)
    )
    return tuple(BundleRecord(version=v, digest=d, published_at=p, created_at=c) for v, d, p, c in rows)


def register_newest_bundle(session: Session, trusted: Sequence[PublicKey], now: datetime) -> int:
    """At startup, after the shipped catalogue: the newest vouched bundle's policies are the
    current definitions (titles, frameworks, versions), if its signature verifies against the keys
    trusted now. Returns how many were registered."""
    row = newest_bundle(session)
    if row is None or not trusted:
        return 0
    bundle = parse_bundle(row.document.encode("utf-8"))
    try:
        verify_bundle(bundle, trusted)
    except BundleSignatureError:
        return 0  # its signer is no longer trusted: keep the catalogue's definitions
    return register_catalogue(session, catalogue_from_files(content_files(bundle.content)).policies, now)
