"""The command the Custom Script Extension runs on each session host: infra/hostconfig/*.ps1 with its settings.

The script travels inside the command itself (``powershell -EncodedCommand``, UTF-16LE base64), so hosts need no
storage account key, SAS or internet access to fetch it, and a change to the script or its settings changes the
extension's settings, which makes Azure run it again. Windows limits a command line to 32,767 characters
(CreateProcess); ``encoded_command`` refuses anything longer rather than fail on the host.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.config import HostInstallers, Installer

SCRIPT = Path(__file__).resolve().parents[1] / "hostconfig" / "Set-SessionHostConfiguration.ps1"
MAX_COMMAND_LINE = 32767
LAPS_PASSWORD_AGE_DAYS = 30


def _installer(installer: Installer | None) -> dict[str, Any] | None:
    return None if installer is None else installer.model_dump(mode="json")


def host_settings(
    *,
    profile_share: str,
    profile_size_gib: int,
    installers: HostInstallers,
    admin_username: str,
    shortpath_port: int,
) -> dict[str, Any]:
    """The ``$Settings`` object the script reads (camelCase keys, as the script spells them)."""
    return {
        "profileShare": profile_share,
        "profileSizeMB": profile_size_gib * 1024,
        "installers": {
            "webrtcRedirector": _installer(installers.webrtc_redirector),
            "multimediaRedirection": _installer(installers.multimedia_redirection),
            "smartcardMiddleware": _installer(installers.smartcard_middleware),
        },
        "adminUsername": admin_username,
        "shortpathPort": shortpath_port,
        "lapsPasswordAgeDays": LAPS_PASSWORD_AGE_DAYS,
    }


def launcher_script(settings: Mapping[str, Any], script: str | None = None) -> str:
    """The PowerShell text run on the host: ``$Settings`` from JSON, then the versioned script body."""
    body = script if script is not None else SCRIPT.read_text(encoding="utf-8")
    document = json.dumps(settings, separators=(",", ":"), sort_keys=True)
    return f"$Settings = ConvertFrom-Json @'\n{document}\n'@\n{body}"


def encoded_command(settings: Mapping[str, Any], script: str | None = None) -> str:
    """``commandToExecute`` for the Custom Script Extension."""
    text = launcher_script(settings, script)
    encoded = base64.b64encode(text.encode("utf-16-le")).decode("ascii")
    command = f"powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {encoded}"
    if len(command) > MAX_COMMAND_LINE:
        raise ValueError(
            f"the host configuration command is {len(command)} characters, over Windows' {MAX_COMMAND_LINE}; "
            "shorten infra/hostconfig/Set-SessionHostConfiguration.ps1"
        )
    return command


def decode_command(command: str) -> str:
    """The PowerShell text inside ``command`` (for tests and reviewers)."""
    encoded = command.rsplit(" ", 1)[-1]
    return base64.b64decode(encoded).decode("utf-16-le")
