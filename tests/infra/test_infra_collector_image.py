"""The collector image recipe, checked without a container engine (none runs on this machine: `docker info`
cannot reach a daemon). What can be checked is checked: the Dockerfile parses into known instructions, every
file it copies exists, the lock-file install names real extras, uv is the Makefile's, it runs as non-root, and
the command it starts exists in the ``fleetward`` CLI with the port infra expects.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from infra_support import ROOT
from typer.testing import CliRunner

from infra.components import collector_hosting
from infra.config import CollectorConfig
from infra.offline import OfflineRun
from infra.plan import unwrap

DOCKERFILE = ROOT / "packaging" / "collector" / "Dockerfile"
IGNORE = ROOT / "packaging" / "collector" / "Dockerfile.dockerignore"
INSTRUCTIONS = {"FROM", "COPY", "ENV", "WORKDIR", "RUN", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"}


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, backslash continuations joined."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    parsed = []
    for text in logical:
        keyword, _, rest = text.strip().partition(" ")
        parsed.append((keyword.upper(), rest.strip()))
    return parsed


def exec_form(arguments: str) -> list[str]:
    return re.findall(r'"([^"]*)"', arguments)


def test_the_dockerfile_uses_only_known_instructions_and_two_stages() -> None:
    parsed = instructions()
    assert {keyword for keyword, _ in parsed} <= INSTRUCTIONS
    stages = [args for keyword, args in parsed if keyword == "FROM"]
    assert len(stages) == 2
    assert all(re.match(r"python:3\.11-slim-\w+", stage) for stage in stages), "pin the base image by tag"


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        if fnmatch.fnmatch(path, body.rstrip("/")) or fnmatch.fnmatch(path, body.rstrip("/") + "/*"):
            ignored = not negate
    return ignored


def test_every_copied_source_exists_and_is_in_the_build_context() -> None:
    patterns = [
        line.strip() for line in IGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    copies = [args.split() for keyword, args in instructions() if keyword == "COPY"]
    local = [parts[:-1] for parts in copies if not parts[0].startswith("--from=")]
    sources = [source for parts in local for source in parts]
    assert sources, "the Dockerfile copies nothing from the repository"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert not _ignored(source, patterns), f"COPY {source} is excluded by {IGNORE.name}"
    assert _ignored(".venv", patterns)
    assert _ignored("tests", patterns)
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = set(wheel["packages"]) | set(wheel.get("force-include", {}))
    assert needed <= set(sources), f"the wheel build needs {sorted(needed - set(sources))}"


def test_the_locked_install_names_real_extras_and_the_makefiles_uv() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runs = [args for keyword, args in instructions() if keyword == "RUN" and "uv sync" in args]
    assert len(runs) == 1
    assert "--locked" in runs[0]
    for extra in re.findall(r"--extra (\S+)", runs[0]):
        assert extra in project["project"]["optional-dependencies"], extra
    uv_version = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert uv_version is not None
    assert f"ghcr.io/astral-sh/uv:{uv_version.group(1)} " in DOCKERFILE.read_text()


def test_it_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in instructions() if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_entry_command_exists_and_listens_where_infra_expects() -> None:
    from fleetward.cli import app

    parsed = dict(instructions())
    command = exec_form(parsed["ENTRYPOINT"]) + exec_form(parsed["CMD"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert command[0] in project["project"]["scripts"], f"{command[0]} is not an installed script"
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output
    port = CollectorConfig.model_fields["port"].default
    assert parsed["EXPOSE"] == str(port)
    environment = " ".join(args for keyword, args in instructions() if keyword == "ENV").split()
    assert f"FLEETWARD_PORT={port}" in environment
    from collector.settings import CollectorSettings

    assert CollectorSettings.model_fields["port"].default == port


def test_infra_passes_only_settings_the_collector_reads(small_run: OfflineRun) -> None:
    """Finding: the stack injected FLEETWARD_ENROLL_SECRET, which no collector setting reads."""
    from collector.settings import CollectorSettings

    known = {f"FLEETWARD_{name.upper()}" for name in CollectorSettings.model_fields}
    workloads = small_run.of_type("azure-native:app:ContainerApp") + small_run.of_type("azure-native:app:Job")
    assert len(workloads) == 2
    for workload in workloads:
        for container in unwrap(workload.inputs)["template"]["containers"]:
            passed = {e["name"] for e in container["env"] if e["name"].startswith("FLEETWARD_")}
            assert "FLEETWARD_DATABASE_URL" in passed, workload.urn
            assert passed <= known, (
                f"{workload.urn} sets {sorted(passed - known)}, which the collector ignores"
            )
    app = unwrap(small_run.of_type("azure-native:app:ContainerApp")[0].inputs)
    variables = {e["name"] for e in app["template"]["containers"][0]["env"]}
    assert set(collector_hosting.COLLECTOR_SECRETS.values()) <= variables
