"""The agent's settings: built once at start-up and passed down.

Precedence, highest first (see `AgentSettings.settings_customise_sources`):
1. values given in code or on the command line (`--osquery-socket`, ...);
2. environment variables `FLEETWARD_<NAME>` (lists as JSON or comma-separated);
3. on macOS, the managed preferences an MDM configuration profile installs for the domain
   io.fleetward.agent (/Library/Managed Preferences/io.fleetward.agent.plist,
   packaging/macos/io.fleetward.agent.mobileconfig);
4. the config file, TOML (or YAML if it ends in .yaml/.yml): FLEETWARD_CONFIG_FILE, or the OS convention
   Linux /etc/fleetward/agent.toml, macOS /Library/Application Support/fleetward/agent.toml,
   Windows %ProgramData%\\fleetward\\agent.toml;
5. defaults, some per OS.

Secrets are `SecretStr`: they print as `**********` everywhere, including `config show`, and no
error message ever quotes one. `load_settings` is the one way every command gets its settings, so all
of them refuse the same things: a bad value, a malformed enroll secret, an untrusted key that is not
an Ed25519 public key, and on POSIX a config file others can write or a secret file others can read.
docs/reference/agent-settings.md is generated from this model (`agent.settings_doc`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from agent.errors import SettingsError
from fleetward.wire import MAX_REPORTS_PER_BATCH

ENV_PREFIX = "FLEETWARD_"
# What the collector accepts (fleetward.wire.EnrollRequest.enroll_secret).
SECRET_MIN, SECRET_MAX = 8, 200
CONFIG_FILE_ENV = "FLEETWARD_CONFIG_FILE"
MANAGED_PREFERENCES = Path("/Library/Managed Preferences/io.fleetward.agent.plist")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _program_data() -> Path:
    return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))


def default_config_file(platform: str | None = None) -> Path:
    platform = platform or sys.platform
    if platform == "win32":
        return _program_data() / "fleetward" / "agent.toml"
    if platform == "darwin":
        return Path("/Library/Application Support/fleetward/agent.toml")
    return Path("/etc/fleetward/agent.toml")


def default_state_dir(platform: str | None = None) -> Path:
    platform = platform or sys.platform
    if platform == "win32":
        return _program_data() / "fleetward" / "state"
    if platform == "darwin":
        return Path("/Library/Application Support/fleetward/state")
    return Path("/var/lib/fleetward")


def default_log_file(platform: str | None = None) -> Path | None:
    """macOS has no journal for a plain daemon: a rotating file in /Library/Logs (Console.app shows it)."""
    return Path("/Library/Logs/fleetward/agent.log") if (platform or sys.platform) == "darwin" else None


def default_osquery_sockets(platform: str | None = None) -> list[str]:
    """osqueryd's own socket first, then Fleet orbit's (orbit moves it)."""
    if (platform or sys.platform) == "win32":
        return [r"\\.\pipe\osquery.em", r"\\.\pipe\orbit-osquery-extension"]
    return ["/var/osquery/osquery.em", "/opt/orbit/orbit-osquery.em"]


def _split_list(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


StrList = Annotated[list[str], NoDecode]


class AgentSettings(BaseSettings):
    """Everything the laptop agent can be told. Field descriptions become the settings reference."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True
    )

    config_file: Path | None = Field(
        default=None,
        description="The config file to read (TOML, or YAML by extension). Defaults to the OS convention; "
        "a file named here must exist.",
    )
    collector_url: str | None = Field(
        default=None,
        description="Base URL of the collector, e.g. https://collector.example.nhs.uk. HTTPS is required "
        "except for loopback addresses.",
    )
    enroll_secret: SecretStr | None = Field(
        default=None,
        description="The enroll secret deployed by MDM; exchanged once for a per-device key.",
    )
    enroll_secret_file: Path | None = Field(
        default=None,
        description="A file holding the enroll secret (an alternative to enroll_secret, for MDM profiles "
        "that drop files).",
    )
    tls_ca_file: Path | None = Field(
        default=None,
        description="A PEM bundle of CAs to trust for the collector instead of the system store.",
    )
    osquery_sockets: StrList = Field(
        default_factory=default_osquery_sockets,
        description="osqueryd extension sockets to try, in order. Default: `/var/osquery/osquery.em` then "
        "Fleet orbit's `/opt/orbit/orbit-osquery.em`; on Windows `\\\\.\\pipe\\osquery.em` then "
        "`\\\\.\\pipe\\orbit-osquery-extension`.",
    )
    osqueryi_fallback: bool = Field(
        default=False,
        description="When no osqueryd answers, run `osqueryi --json` per query instead.",
    )
    osqueryi_path: str = Field(default="osqueryi", description="The osqueryi executable for the fallback.")
    query_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="How long one policy query may take before it is an error."
    )
    evaluation_deadline_seconds: float = Field(
        default=600.0,
        gt=0,
        le=3600,
        description="How long a whole evaluation may take; queries not run by then are errors.",
    )
    interval_minutes: float = Field(
        default=60.0, ge=1, le=1440, description="How often the catalogue is evaluated."
    )
    jitter_minutes: float = Field(
        default=10.0,
        ge=0,
        description="Up to this much is added at random to each interval, so a fleet does not report at once.",
    )
    heartbeat_minutes: float = Field(
        default=360.0,
        ge=5,
        le=10080,
        description="How often a full snapshot is sent even when nothing changed.",
    )
    flush_interval_seconds: float = Field(
        default=60.0, ge=1, le=3600, description="How often the outbox is offered to the collector."
    )
    upload_batch_size: int = Field(
        default=32,
        ge=1,
        le=MAX_REPORTS_PER_BATCH,
        description="When more than one report is waiting (catching up after time offline), up to this many "
        "go to the collector in one `POST /v1/reports/batch` request, oldest first, each acknowledged on "
        "its own; 1 sends one report per request. A collector without the batch endpoint gets one report "
        "per request whatever this says.",
    )
    http_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300, description="Per request to the collector."
    )
    outbox_max_entries: int = Field(
        default=5000,
        ge=10,
        description="The outbox holds at most this many reports; beyond it, it compacts (see the rollout "
        "guide) and says so.",
    )
    outbox_max_bytes: int = Field(
        default=50 * 1024 * 1024, ge=64 * 1024, description="The outbox holds at most this many bytes."
    )
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Where the agent keeps its device key, last known state and outbox. Default: "
        "`/var/lib/fleetward` (Linux), `/Library/Application Support/fleetward/state` (macOS), "
        "`%ProgramData%\\fleetward\\state` (Windows).",
    )
    log_file: Path | None = Field(
        default_factory=default_log_file,
        description="The service loop also logs to this file, rotated at 5 MiB with 3 old files kept. "
        "Default: `/Library/Logs/fleetward/agent.log` on macOS; none elsewhere (Linux: the journal, "
        "Windows: the Application event log).",
    )
    policies_dir: Path | None = Field(
        default=None,
        description="Evaluate the policies in this directory instead of the catalogue installed with the "
        "agent.",
    )
    practice: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Practice tag sent with enrollment, e.g. the GP practice's ODS code.",
    )
    trusted_bundle_keys: StrList = Field(
        default_factory=list,
        description="Ed25519 public keys (base64) whose signed policy bundles the agent accepts.",
    )

    @field_validator("osquery_sockets", "trusted_bundle_keys", mode="before")
    @classmethod
    def _lists_from_text(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("enroll_secret")
    @classmethod
    def _secret_is_well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        problem = secret_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("collector_url")
    @classmethod
    def _collector_url_is_https(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as https://collector.example.nhs.uk")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError(
                f"{value!r} uses plain http; reports carry device keys and evidence, so use https "
                "(http is allowed only for loopback addresses)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> AgentSettings:
        if self.jitter_minutes >= self.interval_minutes:
            raise ValueError(
                f"jitter_minutes ({self.jitter_minutes:g}) must be less than interval_minutes "
                f"({self.interval_minutes:g})"
            )
        if self.enroll_secret is not None and self.enroll_secret_file is not None:
            raise ValueError("set enroll_secret or enroll_secret_file, not both")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        explicit = getattr(init_settings, "init_kwargs", {}).get("config_file") or os.environ.get(
            CONFIG_FILE_ENV
        )
        path = Path(explicit) if explicit else default_config_file()
        managed: tuple[PydanticBaseSettingsSource, ...] = ()
        if sys.platform == "darwin":
            managed = (ManagedPreferencesSource(settings_cls, MANAGED_PREFERENCES),)
        file = _config_file_source(settings_cls, path, explicit=bool(explicit))
        return (init_settings, env_settings, *managed, file)

    def enroll_secret_value(self) -> str | None:
        """The enroll secret from the setting or its file (read now, so MDM can rotate the file)."""
        if self.enroll_secret is not None:
            return self.enroll_secret.get_secret_value()
        if self.enroll_secret_file is None:
            return None
        try:
            secret = self.enroll_secret_file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise SettingsError(
                f"cannot read enroll_secret_file {self.enroll_secret_file}: {reason or exc}"
            ) from None
        if not secret:
            return None
        problem = secret_problem(secret)
        if problem:
            raise SettingsError(
                f"the enroll secret in enroll_secret_file {self.enroll_secret_file} {problem}"
            )
        return secret


def secret_problem(secret: str) -> str | None:
    """What is wrong with an enroll secret, in words that never include it; None when it may be sent."""
    if len(secret) < SECRET_MIN or len(secret) > SECRET_MAX:
        return (
            f"is {len(secret)} characters long; an enroll secret has {SECRET_MIN} to {SECRET_MAX} (copy it "
            "again from the platform team; the value is not shown)"
        )
    if not all("!" <= ch <= "~" for ch in secret):
        return (
            "contains a space, a line break or a non-ASCII character, often a copy-and-paste slip (copy it "
            "again from the platform team; the value is not shown)"
        )
    return None


class ManagedPreferencesSource(PydanticBaseSettingsSource):
    """macOS managed preferences: the keys of the profile's io.fleetward.agent payload, by setting name."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.values = read_managed_preferences(path)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def read_managed_preferences(path: Path) -> dict[str, Any]:
    import plistlib

    try:
        data = plistlib.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, plistlib.InvalidFileException, ValueError) as exc:
        raise SettingsError(
            f"the managed preferences {path} (from the MDM profile) cannot be read: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"the managed preferences {path} are not a dictionary of settings")
    return {key: value for key, value in data.items() if not str(key).startswith("Payload")}


def config_file_path(given: str | Path | None = None) -> tuple[Path, bool]:
    """The config file to read and whether it was asked for (then it must exist)."""
    explicit = given or os.environ.get(CONFIG_FILE_ENV) or None
    return (Path(explicit), True) if explicit else (default_config_file(), False)


def _config_file_source(
    settings_cls: type[BaseSettings], path: Path, *, explicit: bool
) -> PydanticBaseSettingsSource:
    if not path.exists():
        if explicit:
            raise SettingsError(
                f"config file {path} (from {CONFIG_FILE_ENV} or --config) does not exist; create it or "
                "unset the variable to use the OS default"
            )
        return TomlConfigSettingsSource(settings_cls, toml_file=[])
    import yaml

    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            return YamlConfigSettingsSource(settings_cls, yaml_file=path)
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    except (ValueError, OSError, yaml.YAMLError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise SettingsError(f"config file {path} cannot be read: {exc}") from exc


def load_settings(**overrides: Any) -> AgentSettings:
    """Build the settings once; any problem is a SettingsError naming the setting and where it came from.

    Every command calls this, so all of them validate the same way, files included.
    """
    try:
        settings = AgentSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None  # the pydantic error quotes the input
    from agent.settings_checks import check_files, check_trusted_keys

    check_files(settings)
    check_trusted_keys(settings)
    return settings


def _describe(exc: ValidationError) -> str:
    if len(exc.errors()) == 1:
        return "the agent's settings are not valid: " + _describe_one(exc.errors()[0])
    lines = ["the agent's settings are not valid:"]
    lines += [f"  {_describe_one(error)}" for error in exc.errors()]
    return "\n".join(lines)


def _describe_one(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "settings"
    where = (
        f" (environment {ENV_PREFIX}{field.upper()} or `{field}` in the config file)" if error["loc"] else ""
    )
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}{where}: {message}"


def masked(settings: AgentSettings) -> dict[str, object]:
    """The effective settings as printable data; SecretStr dumps as `**********` (`config show`)."""
    return settings.model_dump(mode="json")
