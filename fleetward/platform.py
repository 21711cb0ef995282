"""osquery's platform families: the one name both the policy model and the recorded devices use."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """osquery's platform families."""

    WINDOWS = "windows"
    DARWIN = "darwin"
    LINUX = "linux"
