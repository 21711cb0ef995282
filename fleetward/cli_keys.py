"""`fleetward keys`: the platform team's Ed25519 signing keys for policy bundles."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="Signing keys for policy bundles.")


@app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", help="Where to write the private key (PEM, mode 0600)."),
) -> None:
    """Create a signing key; print the public key to put in every agent's trusted keys."""
    from fleetward.bundle.errors import KeyFileError
    from fleetward.bundle.keys import SigningKey

    key = SigningKey.generate()
    try:
        key.write(out)
    except KeyFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"private key: {out} (keep it offline; it never needs to be on the collector)")
    typer.echo(f"key id:      {key.public.key_id}")
    typer.echo(f"public key:  {key.public.text}")


@app.command("show")
def show(
    key_file: Path = typer.Argument(..., help="A private key written by `fleetward keys generate`."),
) -> None:
    """Print the public key and key id of a private key file."""
    from fleetward.bundle.errors import KeyFileError
    from fleetward.bundle.keys import SigningKey

    try:
        key = SigningKey.read(key_file)
    except KeyFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"key id:     {key.public.key_id}")
    typer.echo(f"public key: {key.public.text}")
