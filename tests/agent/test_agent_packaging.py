"""The inputs of every laptop package, checked here because only the .deb can be built on this machine
(the MSI and the .pkg are built by .github/workflows/agent-packages.yml on Windows and macOS runners):
the systemd unit, the launchd plist and the macOS configuration profile parse and carry only real
settings, the WiX source is well-formed with the service, upgrade code and event-log source the agent
expects, and the workflow parses and names files that exist."""

from __future__ import annotations

import configparser
import plistlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.logs import EVENT_LOG_SOURCE, EVENT_MESSAGE_FILE
from agent.settings import AgentSettings, default_log_file, read_managed_preferences

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
WORKFLOW = ROOT / ".github" / "workflows" / "agent-packages.yml"
WIX = {"w": "http://wixtoolset.org/schemas/v4/wxs", "util": "http://wixtoolset.org/schemas/v4/wxs/util"}
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def test_systemd_unit_runs_the_packaged_agent_hardened_and_restarts() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(PACKAGING / "systemd" / "fleetward-agent.service")
    service = unit["Service"]
    assert service["ExecStart"] == "/usr/bin/fleetward-agent run"  # the .deb's symlink
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["StateDirectoryMode"] == "0700"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert unit["Install"]["WantedBy"] == "multi-user.target"


# --- macOS ----------------------------------------------------------------------------------------
def _profile() -> dict[str, Any]:
    return plistlib.loads((PACKAGING / "macos" / "io.fleetward.agent.mobileconfig").read_bytes())


def test_launchd_plist_runs_the_frozen_agent_where_the_pkg_puts_it() -> None:
    plist = plistlib.loads((PACKAGING / "macos" / "io.fleetward.agent.plist").read_bytes())
    assert plist["Label"] == "io.fleetward.agent"
    assert plist["ProgramArguments"] == ["/opt/fleetward/fleetward-agent", "run"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["Umask"] == 0o77
    # The agent rotates its own log (log_file); launchd's files never rotate, so only stderr is kept.
    assert "StandardOutPath" not in plist
    assert plist["StandardErrorPath"] == "/Library/Logs/fleetward/agent.stderr.log"
    assert default_log_file("darwin") == Path("/Library/Logs/fleetward/agent.log")
    script = (PACKAGING / "macos" / "build_pkg.sh").read_text()
    assert '"$WORK/payload/opt/fleetward"' in script
    assert "io.fleetward.agent.plist" in (PACKAGING / "macos" / "scripts" / "postinstall").read_text()


def test_the_configuration_profile_is_a_custom_settings_payload_for_the_agent() -> None:
    profile = _profile()
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadScope"] == "System"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "io.fleetward.agent"  # the managed preferences domain
    uuids = [profile["PayloadUUID"], payload["PayloadUUID"]]
    assert all(GUID.match(u) for u in uuids)
    assert len(set(uuids)) == 2


def test_every_setting_the_profile_carries_exists_and_no_secret_is_in_it(tmp_path: Path) -> None:
    (payload,) = _profile()["PayloadContent"]
    managed = tmp_path / "io.fleetward.agent.plist"
    managed.write_bytes(plistlib.dumps(payload))  # what macOS writes to /Library/Managed Preferences
    values = read_managed_preferences(managed)
    assert values  # Payload* keys dropped, settings kept
    assert set(values) <= set(AgentSettings.model_fields)
    assert "enroll_secret" not in values  # managed preferences are readable by every local user
    assert values["enroll_secret_file"].startswith("/Library/Application Support/fleetward/")
    values.pop("trusted_bundle_keys")  # a placeholder the platform team replaces
    settings = AgentSettings(config_file=None, **values)
    assert settings.collector_url == "https://collector.example.nhs.uk"


# --- Windows --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wxs() -> ET.Element:
    return ET.parse(PACKAGING / "windows" / "fleetward-agent.wxs").getroot()  # noqa: S314  # our own file


def test_wix_source_is_a_per_machine_package_with_a_fixed_upgrade_code(wxs: ET.Element) -> None:
    assert wxs.tag == f"{{{WIX['w']}}}Wix"
    package = wxs.find("w:Package", WIX)
    assert package is not None
    assert package.get("Scope") == "perMachine"
    assert package.get("Version") == "$(var.Version)"
    upgrade_code = package.get("UpgradeCode", "")
    assert GUID.match(upgrade_code)
    assert package.find("w:MajorUpgrade", WIX) is not None
    # uninstall.ps1 finds any installed version by the same upgrade code.
    assert f"{{{upgrade_code.upper()}}}" in (PACKAGING / "windows" / "uninstall.ps1").read_text()


def test_wix_installs_the_frozen_agent_as_an_automatic_localsystem_service(wxs: ET.Element) -> None:
    files = wxs.find(".//w:Files", WIX)
    assert files is not None
    assert files.get("Include") == r"$(var.FrozenDir)\**"
    service = wxs.find(".//w:ServiceInstall", WIX)
    assert service is not None
    assert (service.get("Name"), service.get("Start"), service.get("Account")) == (
        "fleetward-agent",
        "auto",
        "LocalSystem",
    )
    assert service.get("Arguments") == "service"  # `fleetward-agent.exe service` (agent.windows_service)
    executable = wxs.find(".//w:Component[@Id='ServiceExecutable']/w:File", WIX)
    assert executable is not None
    assert executable.get("Source", "").endswith(r"\fleetward-agent.exe")
    restart = service.find("util:ServiceConfig", WIX)
    assert restart is not None
    assert restart.get("FirstFailureActionType") == "restart"
    control = wxs.find(".//w:ServiceControl", WIX)
    assert control is not None
    assert (control.get("Start"), control.get("Stop"), control.get("Remove")) == (
        "install",
        "both",
        "uninstall",
    )


def test_wix_registers_the_event_log_source_the_agent_logs_to(wxs: ET.Element) -> None:
    source = wxs.find(".//util:EventSource", WIX)
    assert source is not None
    assert source.get("Name") == EVENT_LOG_SOURCE
    assert source.get("Log") == "Application"
    # The same message file agent/logs.py hands NTEventLogHandler, so neither overwrites the other.
    assert (
        source.get("EventMessageFile", "").replace("[WindowsFolder]", "%SystemRoot%\\") == EVENT_MESSAGE_FILE
    )


def test_wix_keeps_programdata_to_system_and_administrators(wxs: ET.Element) -> None:
    acl = wxs.find(".//w:Component[@Id='DataFolderAcl']", WIX)
    assert acl is not None
    assert acl.get("Permanent") == "yes"  # uninstall keeps the device key and outbox
    permission = acl.find("w:CreateFolder/w:PermissionEx", WIX)
    assert permission is not None
    sddl = permission.get("Sddl", "")
    assert "D:P" in sddl  # protected: nothing inherited from ProgramData (where Users may read)
    assert set(re.findall(r";;;(\w+)\)", sddl)) == {"SY", "BA"}


@pytest.mark.skipif(sys.platform == "win32", reason="there `service` waits for the service control manager")
def test_the_service_command_is_for_windows_only() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "service"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 2
    assert "Windows service control manager" in done.stderr


# --- the workflow ---------------------------------------------------------------------------------
def test_the_packages_workflow_builds_on_each_os_from_files_that_exist() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    assert {jobs[name]["runs-on"] for name in jobs} == {"ubuntu-22.04", "windows-latest", "macos-latest"}
    commands = "\n".join(step.get("run", "") for job in jobs.values() for step in job["steps"])
    named = set(re.findall(r"(?:packaging|tests|fleetward/recorded/devices)/[\w./-]+\.\w+", commands))
    assert named
    assert {p for p in named if not (ROOT / p).is_file()} == set()
    for expected in (
        "packaging/freeze.py",
        "packaging/windows/fleetward-agent.wxs",
        "packaging/macos/build_pkg.sh",
    ):
        assert expected in commands
