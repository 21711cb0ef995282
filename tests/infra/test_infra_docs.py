from __future__ import annotations

from infra_support import ROOT

from infra.docs_gen import stack_config_reference


def test_committed_stack_config_reference_matches_the_model() -> None:
    committed = (ROOT / "docs" / "reference" / "stack-config.md").read_text(encoding="utf-8")
    assert committed == stack_config_reference(), (
        "regenerate: python -m infra.docs_gen > docs/reference/stack-config.md"
    )
