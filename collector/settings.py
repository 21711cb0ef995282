"""Settings of the collector, read once by the composition root (CLI or ASGI entry) and passed down.

Every field can be set from the environment with the `FLEETWARD_` prefix, e.g.
`FLEETWARD_DATABASE_URL=postgresql+psycopg://fleetward@db/fleetward`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETWARD_", extra="ignore", frozen=True)

    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///./fleetward.db"),
        description="SQLAlchemy URL: sqlite:///path.db (embedded) or postgresql+psycopg://user@host/db. "
        "Secret because it may hold a password.",
    )
    host: str = Field(default="127.0.0.1", description="Listen address of `fleetward collector serve`")
    port: int = Field(default=8800, ge=1, le=65535)
    max_request_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Larger request bodies are refused with 413"
    )
    device_rate_per_minute: float = Field(
        default=120.0, gt=0, description="Sustained reports per minute per device (token bucket, per process)"
    )
    device_rate_burst: int = Field(default=60, ge=1, description="Reports a device may send at once")
    validity: timedelta = Field(
        default=timedelta(days=30),
        description="A pair with no report for longer than this is `stale` (ISO 8601 duration, e.g. P30D)",
    )
    max_clock_skew: timedelta = Field(
        default=timedelta(days=1),
        description="Reports observed further than this in the future (by the collector's clock) are refused",
    )
    token_pepper: SecretStr | None = Field(
        default=None,
        description="Optional server secret mixed into token digests (HMAC-SHA256). Changing it "
        "invalidates every token, device key and enroll secret.",
    )
    bootstrap_admin_token: SecretStr | None = Field(
        default=None,
        description="An admin token registered at startup (e.g. from a key vault) so a new deployment "
        "can be administered over HTTP before any token was created from the CLI.",
    )
    bootstrap_enroll_secret: SecretStr | None = Field(
        default=None,
        description="An enroll secret registered at startup (e.g. from a key vault) so laptops can enrol "
        "on a new deployment before anyone created a secret from the CLI.",
    )
    bootstrap_enroll_secret_validity: timedelta = Field(
        default=timedelta(days=90),
        gt=timedelta(0),
        description="Lifetime of the bootstrap enroll secret from its first registration (ISO 8601, e.g. P90D)",
    )
    log_level: str = Field(default="INFO", description="Python logging level of the JSON logs")
    trusted_bundle_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Ed25519 public keys (base64, comma-separated) whose signature a published policy "
        "bundle must carry. Empty: any signed bundle is stored, and agents alone judge the signer.",
    )

    @field_validator("trusted_bundle_keys", mode="before")
    @classmethod
    def _bundle_keys(cls, value: object) -> object:
        from fleetward.bundle.keys import public_key_list

        return public_key_list(value)

    def database_url_value(self) -> str:
        return self.database_url.get_secret_value()
