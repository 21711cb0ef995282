"""The bundle document: build, sign, parse and verify. Pure apart from the key objects."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from fleetward.bounds import MAX_BUNDLE_VERSION
from fleetward.bundle.errors import (
    BundleDigestError,
    BundleFormatError,
    BundleReplayError,
    BundleSignatureError,
)
from fleetward.bundle.keys import PublicKey, SigningKey

FORMAT = "fleetward.policy-bundle/v1"


def canonical_json(payload: object) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manifest(_Frozen):
    format: Literal["fleetward.policy-bundle/v1"] = "fleetward.policy-bundle/v1"
    version: Annotated[
        int, Field(ge=1, le=MAX_BUNDLE_VERSION, description="Monotonic: an agent only ever moves forward")
    ]
    created_at: AwareDatetime
    content_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    catalogue_digest: str = ""
    policy_versions: dict[str, str] = Field(default_factory=dict)


class Signature(_Frozen):
    key_id: str
    signature: str  # base64 Ed25519 signature over canonical_json(manifest)


class Bundle(_Frozen):
    manifest: Manifest
    content: dict[str, Any]
    signatures: list[Signature] = Field(default_factory=list)

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def digest(self) -> str:
        """Digest of the whole signed document: what the collector's ETag and audit trail name."""
        return sha256_hex(self.to_bytes())

    def to_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    def signed_by(self, key: SigningKey) -> Bundle:
        message = canonical_json(self.manifest.model_dump(mode="json"))
        signature = Signature(
            key_id=key.public.key_id, signature=base64.b64encode(key.sign(message)).decode()
        )
        others = [s for s in self.signatures if s.key_id != signature.key_id]
        return self.model_copy(update={"signatures": [*others, signature]})


def build_bundle(
    content: Mapping[str, Any],
    *,
    version: int,
    created_at: datetime,
    catalogue_digest: str = "",
    policy_versions: Mapping[str, str] | None = None,
) -> Bundle:
    body = json.loads(canonical_json(content))
    manifest = Manifest(
        version=version,
        created_at=created_at,
        content_digest=sha256_hex(canonical_json(body)),
        catalogue_digest=catalogue_digest,
        policy_versions=dict(policy_versions or {}),
    )
    return Bundle(manifest=manifest, content=body)


def version_from_instant(instant: datetime) -> int:
    """A default monotonic version: the creation instant as YYYYMMDDhhmmss."""
    return int(instant.strftime("%Y%m%d%H%M%S"))


def parse_bundle(data: bytes) -> Bundle:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleFormatError(f"not a policy bundle (truncated or not JSON): {exc}") from exc
    if not isinstance(raw, dict):
        raise BundleFormatError("not a policy bundle: the document is not a JSON object")
    try:
        return Bundle.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleFormatError(f"not a valid policy bundle: {where}: {first['msg']}") from exc


def check_content_digest(bundle: Bundle) -> None:
    """The content is what the manifest (and so the signature) pins; BundleDigestError if not."""
    actual = sha256_hex(canonical_json(bundle.content))
    if actual != bundle.manifest.content_digest:
        raise BundleDigestError(
            f"bundle {bundle.version}: content digest {actual[:16]}… does not match the manifest's "
            f"{bundle.manifest.content_digest[:16]}…; the bundle was altered after it was built"
        )


def verify_bundle(
    bundle: Bundle, trusted: Iterable[PublicKey], *, newer_than: int | None = None
) -> PublicKey:
    """Check digest, signature and freshness; return the key that vouched for it."""
    check_content_digest(bundle)
    keys = {k.key_id: k for k in trusted}
    if not keys:
        raise BundleSignatureError(
            "no trusted bundle keys are configured; add the platform team's public key"
        )
    message = canonical_json(bundle.manifest.model_dump(mode="json"))
    for signature in bundle.signatures:
        key = keys.get(signature.key_id)
        if key is None:
            continue
        try:
            raw = base64.b64decode(signature.signature, validate=True)
        except ValueError:
            continue
        if key.verify(raw, message):
            if newer_than is not None and bundle.version <= newer_than:
                raise BundleReplayError(
                    f"bundle {bundle.version} is not newer than bundle {newer_than} already in use; "
                    "an older bundle is never installed again"
                )
            return key
    signers = ", ".join(s.key_id for s in bundle.signatures) or "nobody"
    raise BundleSignatureError(
        f"bundle {bundle.version} is signed by {signers}; none of the trusted keys ({', '.join(sorted(keys))}) "
        "verifies it"
    )
