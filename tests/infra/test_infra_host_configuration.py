"""The Custom Script Extension command: the versioned script with its settings, within Windows' limits."""

from __future__ import annotations

import json
import re

import pytest

from infra.components.host_configuration import (
    MAX_COMMAND_LINE,
    SCRIPT,
    decode_command,
    encoded_command,
    host_settings,
)
from infra.config import HostInstallers


def settings() -> dict[str, object]:
    return host_settings(
        profile_share="\\\\stfslfwuks.file.core.windows.net\\profiles",
        profile_size_gib=30,
        installers=HostInstallers(),
        admin_username="fwadmin",
        shortpath_port=3390,
    )


def test_the_command_carries_the_script_and_its_settings_and_fits_a_command_line() -> None:
    command = encoded_command(settings())
    assert command.startswith(
        "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
    )
    assert len(command) <= MAX_COMMAND_LINE
    text = decode_command(command)
    assert text.endswith(SCRIPT.read_text(encoding="utf-8"))
    document = re.search(r"@'\n(.*)\n'@", text, re.S)
    assert document is not None
    assert json.loads(document.group(1)) == settings()


def test_the_script_is_versioned() -> None:
    assert re.search(r"^\$Version = '\d+'$", SCRIPT.read_text(encoding="utf-8"), re.M)


def test_a_script_too_long_for_windows_is_refused_here_not_on_the_host() -> None:
    with pytest.raises(ValueError, match="over Windows' 32767"):
        encoded_command(settings(), script="Write-Output 'x'\n" * 2000)


def test_an_unset_installer_is_skipped_not_half_configured() -> None:
    unset = host_settings(
        profile_share="\\\\a\\b",
        profile_size_gib=1,
        installers=HostInstallers(smartcard_middleware=None, webrtc_redirector=None),
        admin_username="x",
        shortpath_port=3390,
    )
    assert unset["installers"] == {
        "webrtcRedirector": None,
        "multimediaRedirection": {"url": "https://aka.ms/avdmmr/msi", "sha256": None, "arguments": ""},
        "smartcardMiddleware": None,
    }
    assert "if ($null -eq $Installer)" in SCRIPT.read_text(encoding="utf-8")
