"""The committed settings reference is exactly what the settings model renders."""

from __future__ import annotations

from pathlib import Path

from agent.settings import AgentSettings
from agent.settings_doc import render_settings_reference

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "agent-settings.md"


def test_committed_reference_matches_the_model() -> None:
    assert REFERENCE.read_text("utf-8") == render_settings_reference(), (
        "docs/reference/agent-settings.md is stale: run "
        "`python -m agent.settings_doc > docs/reference/agent-settings.md`"
    )


def test_every_setting_is_documented_with_a_description() -> None:
    text = render_settings_reference()
    for name, field in AgentSettings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"`FLEETWARD_{name.upper()}`" in text
