"""The import graph keeps its layers: the core is a leaf, each boundary has one seam.

    simulator, tests, bench          may import anything below
    agent      collector     infra   each imports only fleetward (never one another)
    fleetward                        the shared core: imports none of the above

and inside: the recorded osquery engine does not import the policy package (the policy code runs
policies on recorded devices, not the other way round), and the collector's store and domain know
nothing of HTTP (they raise `collector.errors` kinds; collector/api translates them). Every module file is parsed
with `ast`, including imports made inside functions, so a lazy import cannot hide a layering break.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("fleetward", "agent", "collector", "infra", "simulator")

# package -> the packages of ours it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "fleetward": frozenset({"agent", "collector", "infra", "simulator"}),
    "agent": frozenset({"collector", "infra", "simulator"}),
    "collector": frozenset({"agent", "infra", "simulator"}),
    "infra": frozenset({"agent", "collector", "simulator"}),
    "simulator": frozenset(),
}
# Finer rules inside the core: module prefix -> module prefixes it must never import.
# The collector's store and domain raise domain errors; only collector/api knows HTTP.
_HTTP = ("collector.api", "collector.errors.ApiError", "fastapi", "starlette")
FORBIDDEN_WITHIN: dict[str, tuple[str, ...]] = {
    "fleetward.recorded": ("fleetward.policy",),
    "collector.store": _HTTP,
    "collector.domain": _HTTP,
}


def imported_modules(source: str, module: str) -> set[str]:
    """Every absolute module name `source` (the text of `module`) imports, at any depth."""
    found: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def violations(module: str, source: str) -> list[str]:
    """The layering rules `module` (dotted name) with this source text breaks, as sentences."""
    top = module.split(".")[0]
    broken = []
    for name in sorted(imported_modules(source, module)):
        if name.split(".")[0] in FORBIDDEN.get(top, frozenset()):
            broken.append(f"{module} imports {name}")
        for inside, banned in FORBIDDEN_WITHIN.items():
            if _within(module, inside) and any(_within(name, b) for b in banned):
                broken.append(f"{module} imports {name}")
    return broken


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _shipped_modules() -> list[Path]:
    return sorted(p for top in TOP for p in (ROOT / top).rglob("*.py"))


def test_every_module_keeps_its_layer() -> None:
    files = _shipped_modules()
    assert len(files) > 100, "the walk found too few modules: is ROOT right?"
    broken = [v for path in files for v in violations(_module_name(path), path.read_text(encoding="utf-8"))]
    assert broken == []


def test_nothing_shipped_imports_the_simulator() -> None:
    users = [
        _module_name(path)
        for path in _shipped_modules()
        if not _within(_module_name(path), "simulator")
        and any(_within(name, "simulator") for name in imported_modules(path.read_text(), _module_name(path)))
    ]
    assert users == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "fleetward.wire",
            "from collector.store import engine\n",
            ["fleetward.wire imports collector.store"],
        ),
        ("fleetward.cli", "def f():\n    import infra.cli\n", ["fleetward.cli imports infra.cli"]),
        ("agent.service", "from collector import app\n", ["agent.service imports collector"]),
        (
            "collector.store.waivers",
            "from collector.errors import ApiError, NotFound\n",
            ["collector.store.waivers imports collector.errors.ApiError"],
        ),
        (
            "fleetward.recorded.model",
            "from ..policy.model import Platform\n",
            ["fleetward.recorded.model imports fleetward.policy.model"],
        ),
        ("collector.api.x", "import agent.compose as c\n", ["collector.api.x imports agent.compose"]),
        ("infra.program", "from simulator.plan import make_plan\n", ["infra.program imports simulator.plan"]),
        (
            "fleetward.recorded.engine",
            "from fleetward.policy.model import Platform\n",
            ["fleetward.recorded.engine imports fleetward.policy.model"],
        ),
    ],
)
def test_a_violating_module_is_caught(module: str, source: str, expected: list[str]) -> None:
    assert [v for v in violations(module, source) if v in expected] == expected


def test_allowed_imports_pass() -> None:
    source = "from fleetward.wire import Report\nimport httpx\nfrom agent.osquery import runner\n"
    assert violations("agent.service", source) == []
    assert (
        violations("simulator.runner", "from agent.compose import build_agent\nimport collector.app\n") == []
    )
