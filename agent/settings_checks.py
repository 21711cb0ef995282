"""What `load_settings` checks beyond the values, for every command alike: the trusted bundle keys
are Ed25519 public keys, and on POSIX the files the settings name are not open to other users."""

from __future__ import annotations

import os

from agent.errors import SettingsError
from agent.settings import ENV_PREFIX, AgentSettings, config_file_path


def check_trusted_keys(settings: AgentSettings) -> None:
    """Every key must be an Ed25519 public key (base64), whichever command runs, not only `run`."""
    from fleetward.bundle.errors import KeyFileError
    from fleetward.bundle.keys import PublicKey

    for text in settings.trusted_bundle_keys:
        try:
            PublicKey.from_text(text)
        except KeyFileError as exc:
            raise SettingsError(
                f"the agent's settings are not valid: trusted_bundle_keys (environment "
                f"{ENV_PREFIX}TRUSTED_BUNDLE_KEYS or `trusted_bundle_keys` in the config file): {exc}; use "
                "the `public key` line printed by `fleetward keys show`"
            ) from None


def check_files(settings: AgentSettings) -> None:
    """Refuse what a local user could abuse (POSIX): a config file others may write (it says where
    reports go and which bundle keys to trust), a secret file others may read. The enroll secret
    file, when present, must also hold a well-formed secret. A missing secret file is not an error
    here: MDM may drop it later, and the agent evaluates and queues reports meanwhile."""
    config, _ = config_file_path(settings.config_file)
    if os.name == "posix" and config.is_file():
        mode = config.stat().st_mode & 0o777
        if mode & 0o022:
            raise SettingsError(
                f"config file {config} can be changed by other users (mode {mode:04o}); it decides where "
                f"reports go and which policy bundles are trusted: run `chmod 600 {config}` (owned by root)"
            )
    secret_file = settings.enroll_secret_file
    if secret_file is None or not secret_file.is_file():
        return
    if os.name == "posix":
        mode = secret_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise SettingsError(
                f"enroll_secret_file {secret_file} can be read by other users (mode {mode:04o}): run "
                f"`chmod 600 {secret_file}` (owned by root)"
            )
    settings.enroll_secret_value()
