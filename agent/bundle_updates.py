"""Checking for a newer policy bundle on the agent's schedule, and what happens either way.

Each check is one conditional GET (`If-None-Match` with the ETag last seen, so an unchanged bundle
costs a 304 and no body). What arrives is checked against the ETag (the SHA-256 the collector
published, which catches a truncated or corrupted download), then by `BundleStore.install`
(format, digest, a signature from a trusted key, a version above the one in use). A bundle that
fails is refused: the agent records a `bundle_refused` event, which reaches the collector with the
next report, and carries on evaluating with the bundle it has. Only a bundle that passed every check
replaces the evaluator's catalogue, from the next evaluation on, and reports then carry its version.

A starter bundle, `starter-bundle.json` beside the agent's config file (deployed by MDM with the
config), is installed the same way at start-up, so a new laptop runs the current baseline before it
first reaches the collector. Without one it runs the catalogue installed with the agent.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent.bundles import ActiveBundle, BundleStore
from agent.collector_client import CollectorClient, FetchOutcome, NotModified, Unavailable
from agent.errors import SettingsError
from agent.outbox import Outbox
from agent.store import Database
from fleetward.bundle.errors import BundleError, KeyFileError
from fleetward.bundle.keys import PublicKey
from fleetward.errors import PolicyError
from fleetward.policy.catalogue import Catalogue
from fleetward.wire import EventKind

if TYPE_CHECKING:
    from agent.settings import AgentSettings

log = logging.getLogger("fleetward.agent")
STARTER_BUNDLE = "starter-bundle.json"
LAST_REFUSAL = "bundle.last_refusal"


class BundleSource(Protocol):
    def fetch(self, etag: str | None) -> FetchOutcome: ...


class DeviceKeySource(Protocol):
    def current(self) -> object | None: ...


class HttpBundleSource:
    """The bundle from the collector, through the agent's one `CollectorClient`, once enrolled."""

    def __init__(self, client: CollectorClient, keys: DeviceKeySource) -> None:
        self._client = client
        self._keys = keys

    def fetch(self, etag: str | None) -> FetchOutcome:
        credentials = self._keys.current()
        key = getattr(credentials, "device_key", None)
        if not key:
            return Unavailable("not enrolled yet: the bundle is checked once the device has a key")
        return self._client.fetch_bundle(etag, key)


# --- what a check did ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BundleCheck:
    activated: ActiveBundle | None = None
    refused: str | None = None
    skipped: str | None = None


class BundleTarget(Protocol):
    """What a newly activated bundle changes: the service's evaluator catalogue and report version."""

    bundle_version: int | None

    def use_catalogue(self, catalogue: Catalogue) -> None: ...


class BundleUpdater:
    def __init__(self, store: BundleStore, source: BundleSource | None, db: Database, outbox: Outbox) -> None:
        self.store = store
        self._source = source
        self._db = db
        self._outbox = outbox
        # The ETag of the bytes last judged, good or refused: the same bytes are not fetched again
        # by this process. Kept in memory so that a restart (new trusted keys) judges them afresh.
        self._etag: str | None = None

    def load_active(self) -> ActiveBundle | None:
        """The bundle on disk, verified again; a bundle that no longer verifies is refused."""
        try:
            active = self.store.load_active()
            self._etag = None if active is None else f'"{active.digest}"'
            return active
        except (BundleError, PolicyError, OSError) as exc:
            self._refuse(
                f"the installed bundle is not used: {exc}; running the catalogue installed with the agent"
            )
            return None

    def start(self, starter: Path | None) -> ActiveBundle | None:
        """At start-up: the verified bundle on disk (if any), then the starter bundle if it is newer.
        Returns the bundle to run; None: the catalogue installed with the agent."""
        active = self.load_active()
        if starter is not None and starter.is_file():
            check = self.install_file(starter)
            active = check.activated or active
        return active

    def install_file(self, path: Path) -> BundleCheck:
        """The starter bundle: installed when it is newer than what is in use, refused if it fails."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            return self._refused(f"starter bundle {path} cannot be read: {exc.strerror or exc}")
        current, version = self.store.current_version(), _version_of(data)
        if current is not None and version is not None and version <= current:
            return BundleCheck(skipped="the bundle in use is the starter bundle or newer")
        return self._install(data, origin=f"starter bundle {path}")

    def check(self) -> BundleCheck:
        if self._source is None:
            return BundleCheck(skipped="no collector configured")
        outcome = self._source.fetch(self._etag)
        if isinstance(outcome, NotModified):
            return BundleCheck(skipped="unchanged")
        if isinstance(outcome, Unavailable):
            log.info("policy bundle not checked: %s", outcome.message)
            return BundleCheck(skipped=outcome.message)
        if self._etag is not None and outcome.etag == self._etag:
            return BundleCheck(skipped="unchanged")  # a collector that ignores If-None-Match
        digest = hashlib.sha256(outcome.data).hexdigest()
        if outcome.etag is not None and outcome.etag.strip('"') != digest:
            # Not remembered: the next check downloads it again.
            return self._refused(
                f"the policy bundle download ({len(outcome.data)} bytes) does not match its ETag "
                f"{outcome.etag}: truncated or corrupted in transit"
            )
        result = self._install(outcome.data, origin="policy bundle from the collector")
        self._etag = f'"{digest}"'
        return result

    def apply(self, check: BundleCheck, target: BundleTarget) -> BundleCheck:
        if check.activated is not None:
            target.use_catalogue(check.activated.catalogue)
            target.bundle_version = check.activated.version
        return check

    def _install(self, data: bytes, *, origin: str) -> BundleCheck:
        try:
            active = self.store.install(data)
        except (BundleError, PolicyError) as exc:
            return self._refused(f"{origin} refused: {exc}; still running the bundle in use")
        message = (
            f"policy bundle {active.version} activated ({len(active.catalogue.policies)} policies, signed by "
            f"key {active.signed_by}, digest {active.digest[:16]}…)"
        )
        log.info("%s", message)
        self._outbox.record_event(EventKind.BUNDLE_ACTIVATED, message)
        self._db.set_meta(LAST_REFUSAL, "")
        return BundleCheck(activated=active)

    def _refused(self, message: str) -> BundleCheck:
        self._refuse(message)
        return BundleCheck(refused=message)

    def _refuse(self, message: str) -> None:
        log.warning("%s", message)
        if self._db.get_meta(LAST_REFUSAL) != message:  # once per distinct refusal, not every cycle
            self._outbox.record_event(EventKind.BUNDLE_REFUSED, message)
            self._db.set_meta(LAST_REFUSAL, message)


def _version_of(data: bytes) -> int | None:
    from fleetward.bundle.document import parse_bundle

    try:
        return parse_bundle(data).version
    except BundleError:
        return None


# --- composition ----------------------------------------------------------------------------------
def trusted_keys(settings: AgentSettings) -> list[PublicKey]:
    try:
        return [PublicKey.from_text(text) for text in settings.trusted_bundle_keys]
    except KeyFileError as exc:
        raise SettingsError(
            f"trusted_bundle_keys (FLEETWARD_TRUSTED_BUNDLE_KEYS or the config file): {exc}; use the "
            "`public key` line printed by `fleetward keys show`"
        ) from exc


def starter_bundle_path(settings: AgentSettings) -> Path:
    from agent.settings import config_file_path

    return config_file_path(settings.config_file)[0].parent / STARTER_BUNDLE


def build_updater(
    settings: AgentSettings, *, db: Database, outbox: Outbox, source: BundleSource | None
) -> BundleUpdater:
    return BundleUpdater(BundleStore(settings.state_dir, trusted_keys(settings)), source, db, outbox)
