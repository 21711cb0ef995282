"""The agent as a Windows service: the MSI (packaging/windows/fleetward-agent.wxs) installs
`fleetward-agent.exe service`, run by the service control manager as LocalSystem.

pywin32's ServiceFramework answers the service control manager; SvcDoRun runs the same loop as
`fleetward-agent run` (`agent.cli.serve`), logging to the Application event log, and SvcStop sets
the stop event, so a stop finishes the current step like SIGTERM does elsewhere. A settings error is
written to the event log and stops the service; the MSI's failure actions restart it after a minute.
"""

from __future__ import annotations

import threading
from typing import Any

import servicemanager
import win32service
import win32serviceutil

SERVICE_NAME = "fleetward-agent"


class AgentWindowsService(win32serviceutil.ServiceFramework):  # type: ignore[misc]  # pywin32 is untyped
    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = "fleetward compliance agent"
    _svc_description_ = "Evaluates the laptop's compliance policies with osquery and reports drift."

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self._stop = threading.Event()

    def SvcStop(self) -> None:  # pywin32's name
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
        self._stop.set()

    def SvcDoRun(self) -> None:  # pywin32's name
        from agent.cli import serve
        from agent.settings import load_settings
        from fleetward.errors import FleetwardError

        try:
            serve(load_settings(), stop=self._stop, windows_service=True)
        except FleetwardError as exc:
            servicemanager.LogErrorMsg(f"fleetward-agent: {exc}")
            raise


def dispatch() -> None:
    """Hand this process to the service control manager (it blocks until the service stops)."""
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(AgentWindowsService)
    servicemanager.StartServiceCtrlDispatcher()
