"""`fleetward policies bundle`: build, sign, verify and publish the signed policy bundle.

The monthly routine (docs/policy-bundles.md): update the baseline, `build` (lints first), `sign`
on the machine that holds the key (twice, with two keys, while a key is being rotated), `verify`
against the keys the agents trust, then `publish` to the collector.

Exit status of every command:
  0  done;
  1  refused: the catalogue has lint problems, the bundle does not verify, or the collector
     refused it (not signed, not newer, not valid);
  2  could not run: bad arguments, an unreadable file or key, the collector unreachable, or the
     token not accepted.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    import httpx

    from fleetward.bundle.document import Bundle

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Build, sign, verify and publish the signed policy bundle that agents run.",
)

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2
BUNDLE_ENDPOINT = "/v1/policies/bundle"


@app.command()
def build(
    policies: Annotated[
        Path | None,
        typer.Option("--policies", help="Catalogue directory (default: the shipped policies/)."),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", min=1, help="Bundle version (default: the creation instant, YYYYMMDDhhmmss)."
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="The bundle now in use: refuse to build one that is not newer."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write the bundle (default: policy-bundle-<version>.json)."
        ),
    ] = None,
) -> None:
    """Lint the catalogue, then pack it into an unsigned bundle (sign it next)."""
    from fleetward.bundle.document import version_from_instant
    from fleetward.bundle.files import bundle_directory, catalogue_from_files, content_files
    from fleetward.errors import FleetwardError
    from fleetward.policy.catalogue import default_policies_dir
    from fleetward.policy.lint import lint_catalogue

    directory = policies or default_policies_dir()
    if not directory.is_dir():
        _unusable(f"--policies {directory} is not a directory")
    created_at = datetime.now(UTC).replace(microsecond=0)
    problems = lint_catalogue(directory, created_at)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(
            f"{len(problems)} lint problem(s): no bundle was built. Fix them and build again.", err=True
        )
        raise typer.Exit(EXIT_REFUSED)
    chosen = version if version is not None else version_from_instant(created_at)
    if previous is not None:
        before = _read_bundle(previous)
        if chosen <= before.version:
            typer.echo(
                f"error: version {chosen} is not newer than {previous} (version {before.version}); agents "
                f"refuse a bundle that does not move forward. Give --version {before.version + 1} or more.",
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED)
    try:
        bundle = bundle_directory(directory, version=chosen, created_at=created_at)
        catalogue = catalogue_from_files(content_files(bundle.content))
    except FleetwardError as exc:
        _unusable(str(exc))
    target = out or Path(f"policy-bundle-{chosen}.json")
    _write(target, bundle.to_bytes())
    typer.echo(
        f"built bundle {chosen}: {len(catalogue.policies)} policies, {len(catalogue.baselines)} baselines, "
        f"{len(catalogue.frameworks)} framework maps"
    )
    typer.echo(f"written to {target} (unsigned: run `fleetward policies bundle sign --key KEY {target}`)")


@app.command()
def sign(
    bundle_file: Annotated[Path, typer.Argument(help="The bundle to sign (from `build`).")],
    key: Annotated[Path, typer.Option("--key", help="Private key file from `fleetward keys generate`.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the signed bundle here (default: in place).")
    ] = None,
) -> None:
    """Add a signature; run it again with a second key while rotating keys."""
    from fleetward.bundle.document import check_content_digest
    from fleetward.bundle.errors import BundleError
    from fleetward.bundle.keys import SigningKey

    bundle = _read_bundle(bundle_file)
    try:
        check_content_digest(bundle)
    except BundleError as exc:
        _refused(f"{bundle_file}: {exc}; build it again rather than signing it")
    try:
        signing_key = SigningKey.read(key)
    except BundleError as exc:
        _unusable(str(exc))
    signed = bundle.signed_by(signing_key)
    target = out or bundle_file
    _write(target, signed.to_bytes())
    signers = ", ".join(s.key_id for s in signed.signatures)
    typer.echo(f"signed bundle {signed.version} with key {signing_key.public.key_id}; signed by: {signers}")
    typer.echo(f"written to {target} (digest {signed.digest})")


@app.command()
def verify(
    bundle_file: Annotated[Path, typer.Argument(help="The bundle to check.")],
    trusted_key: Annotated[
        list[str],
        typer.Option(
            "--trusted-key", help="A trusted public key (base64, or a file holding it); repeat for several."
        ),
    ],
    newer_than: Annotated[
        int | None, typer.Option("--newer-than", help="Also refuse it unless its version is above this.")
    ] = None,
) -> None:
    """Check format, digest and signature exactly as an agent does before installing a bundle."""
    from fleetward.bundle.document import verify_bundle
    from fleetward.bundle.errors import BundleError
    from fleetward.bundle.files import content_files
    from fleetward.bundle.keys import PublicKey

    try:
        keys = [PublicKey.from_argument(k) for k in trusted_key]
    except BundleError as exc:
        _unusable(f"--trusted-key: {exc}")
    bundle = _read_bundle(bundle_file)
    try:
        vouching = verify_bundle(bundle, keys, newer_than=newer_than)
        files = content_files(bundle.content)
    except BundleError as exc:
        _refused(f"{bundle_file} is refused: {exc}")
    typer.echo(
        f"bundle {bundle.version} verifies: signed by trusted key {vouching.key_id}, {len(files)} files, "
        f"digest {bundle.digest}"
    )


@app.command()
def publish(
    bundle_file: Annotated[Path, typer.Argument(help="The signed bundle.")],
    collector: Annotated[
        str, typer.Option("--collector", envvar="FLEETWARD_COLLECTOR_URL", help="The collector's base URL.")
    ],
    token: Annotated[
        str,
        typer.Option("--token", envvar="FLEETWARD_TOKEN", help="An admin API token (or FLEETWARD_TOKEN)."),
    ],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the collector.")] = 60.0,
) -> None:
    """Upload a signed bundle to the collector (admin token); agents pick it up on their next check."""
    import httpx

    from fleetward.bundle.document import check_content_digest
    from fleetward.bundle.errors import BundleError

    bundle = _read_bundle(bundle_file)
    try:
        check_content_digest(bundle)
    except BundleError as exc:
        _refused(f"{bundle_file}: {exc}")
    if not bundle.signatures:
        _refused(f"{bundle_file} is not signed; run `fleetward policies bundle sign --key KEY {bundle_file}`")
    url = collector.rstrip("/") + BUNDLE_ENDPOINT
    try:
        response = httpx.post(
            url,
            content=bundle.to_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        _unusable(f"cannot reach the collector at {url}: {type(exc).__name__}: {exc}")
    if response.status_code in (200, 201):
        body = response.json()
        typer.echo(f"published bundle {body.get('version')} (digest {body.get('digest')})")
        note = body.get("note")
        if note:
            typer.echo(f"note: {note}", err=True)
        return
    code, message = _error_of(response)
    text = (
        f"the collector at {url} refused bundle {bundle.version} ({response.status_code} {code}): {message}"
    )
    if response.status_code in (401, 403):
        _unusable(text + "; publishing needs an admin token")
    if response.status_code in (409, 413, 422):
        _refused(text)
    _unusable(text)


def _read_bundle(path: Path) -> Bundle:
    from fleetward.bundle.document import parse_bundle
    from fleetward.bundle.errors import BundleError

    try:
        data = path.read_bytes()
    except OSError as exc:
        _unusable(f"cannot read {path}: {exc.strerror or exc}")
    try:
        return parse_bundle(data)
    except BundleError as exc:
        _refused(f"{path}: {exc}")


def _write(path: Path, data: bytes) -> None:
    """Replace the file atomically, so a signed bundle is never left half written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        _unusable(f"cannot write {path}: {exc.strerror or exc}")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)  # a bundle is public: signed, not secret
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        _unusable(f"cannot write {path}: {exc.strerror or exc}")


def _error_of(response: httpx.Response) -> tuple[str, str]:
    from fleetward.wire import ErrorBody

    body = ErrorBody.of_refusal(response.content, response.text, response.reason_phrase)
    return body.code, body.message


def _refused(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    sys.exit(EXIT_REFUSED)


def _unusable(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    sys.exit(EXIT_UNUSABLE)
