"""The shipped service definitions parse and run the agent's service loop, restarting on failure."""

from __future__ import annotations

import configparser
import plistlib
import xml.etree.ElementTree as ET
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def test_systemd_unit_runs_the_loop_hardened_and_restarts() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(PACKAGING / "systemd" / "fleetward-agent.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("fleetward-agent run")
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["StateDirectoryMode"] == "0700"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_launchd_plist_runs_the_loop_at_load_and_keeps_it_alive() -> None:
    plist = plistlib.loads((PACKAGING / "macos" / "io.fleetward.agent.plist").read_bytes())
    assert plist["ProgramArguments"][-1] == "run"
    assert plist["ProgramArguments"][0].endswith("fleetward-agent")
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["Umask"] == 0o77


def test_windows_task_runs_the_loop_as_system_at_boot_without_time_limit() -> None:
    task = ET.parse(PACKAGING / "windows" / "fleetward-agent-task.xml").getroot()  # noqa: S314  # our own file
    assert task.findtext("t:Principals/t:Principal/t:UserId", namespaces=TASK_NS) == "S-1-5-18"
    assert task.find("t:Triggers/t:BootTrigger", TASK_NS) is not None
    assert task.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=TASK_NS) == "PT0S"
    assert task.find("t:Settings/t:RestartOnFailure", TASK_NS) is not None
    command = task.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) or ""
    assert command.strip('"').endswith("fleetward-agent.exe")
    assert task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) == "run"
