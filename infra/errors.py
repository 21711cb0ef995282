"""Errors raised by the infra package.

    InfraError                      root of every error this package raises on purpose
    └── ConfigError                 the stack config is invalid; carries every ConfigIssue found

A ConfigIssue names the full Pulumi config key (``fleetward:vpn.clientAddressPool``) and says what to do, so
``pulumi up`` and ``fleetward infra plan`` can print all problems at once before any resource exists.
"""

from __future__ import annotations

from dataclasses import dataclass


class InfraError(Exception):
    """Root of the errors raised by the infra package."""


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One problem with the stack config: the config key it concerns and what to do about it."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(InfraError):
    """The stack config is invalid. ``issues`` lists every problem found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(set(issues))
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"the stack config has {len(self.issues)} problem(s):\n{lines}")
