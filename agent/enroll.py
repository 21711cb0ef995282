"""Enrollment: the enroll secret (deployed by MDM) is exchanged once for a per-device key.

The key is stored in the state directory as `device.json`, created owner-only (0600) and replaced
atomically, so a crash never leaves half a key. On Windows the file inherits the ACL of the state
directory under %ProgramData%, which the installer restricts to SYSTEM and Administrators (see
docs/laptop-rollout.md). When the collector rejects the key (401), the agent enrolls again; the
collector keeps the device's history because the hardware UUID is the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, TextIO

from agent.errors import EnrollmentError, StateError
from agent.store import ensure_private_dir
from fleetward import __version__
from fleetward.clock import Clock
from fleetward.wire import EnrollRequest, EnrollResponse, HostIdentity

CREDENTIALS_FILE = "device.json"


@dataclass(frozen=True)
class DeviceCredentials:
    device_id: str
    device_key: str
    collector_url: str
    enrolled_at: str

    def __repr__(self) -> str:  # never print the key
        return f"DeviceCredentials(device_id={self.device_id!r}, collector_url={self.collector_url!r})"


class CredentialsFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / CREDENTIALS_FILE

    def load(self) -> DeviceCredentials | None:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
            return DeviceCredentials(**raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(
                f"the device key file {self.path} cannot be read ({exc}); delete it and run "
                "`fleetward-agent enroll`"
            ) from exc

    def save(self, credentials: DeviceCredentials) -> None:
        ensure_private_dir(self.path.parent)
        temporary = self.path.with_suffix(".tmp")
        with _private_file(temporary) as handle:
            handle.write(json.dumps(asdict(credentials)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def _private_file(path: Path) -> TextIO:
    path.unlink(missing_ok=True)  # O_CREAT keeps an existing file's mode; start from none
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8")


class EnrollTransport(Protocol):
    def enroll(self, request: EnrollRequest) -> EnrollResponse: ...


class Enroller:
    """Holds the device key: loads it, enrolls when there is none, enrolls again when it is rejected."""

    def __init__(
        self,
        *,
        collector_url: str,
        secret: Callable[[], str | None],
        identity: Callable[[], HostIdentity],
        client: EnrollTransport,
        store: CredentialsFile,
        clock: Clock,
    ) -> None:
        self._collector_url = collector_url
        self._secret = secret
        self._identity = identity
        self._client = client
        self._store = store
        self._clock = clock
        self._current: DeviceCredentials | None = None

    def current(self) -> DeviceCredentials | None:
        """The stored credentials for this collector, if any (no network)."""
        if self._current is None:
            stored = self._store.load()
            if stored is not None and stored.collector_url == self._collector_url:
                self._current = stored
        return self._current

    def device_key(self) -> str:
        """The key to send; enrolls first if there is none. EnrollmentError when that fails."""
        credentials = self.current() or self.enroll()
        return credentials.device_key

    def enroll(self) -> DeviceCredentials:
        secret = self._secret()
        if not secret:
            raise EnrollmentError(
                "the agent is not enrolled and has no enroll secret: set FLEETWARD_ENROLL_SECRET or "
                "enroll_secret_file (deployed by MDM), then run `fleetward-agent enroll`"
            )
        request = EnrollRequest(enroll_secret=secret, host=self._identity(), agent_version=__version__)
        response = self._client.enroll(request)
        credentials = DeviceCredentials(
            device_id=response.device_id,
            device_key=response.device_key,
            collector_url=self._collector_url,
            enrolled_at=self._clock.now().isoformat(),
        )
        self._store.save(credentials)
        self._current = credentials
        return credentials

    def reenroll(self) -> DeviceCredentials:
        """The collector rejected the key: forget it and enroll again."""
        self._current = None
        self._store.forget()
        return self.enroll()
