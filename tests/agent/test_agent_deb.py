"""The Ubuntu package as a laptop gets it: `make package` builds it (once per test session, cached in
dist/), it unpacks to the agent frozen with its own Python, and that binary, run with an EMPTY
environment (no PATH, no PYTHONPATH, no venv), evaluates a recorded device to the same verdicts as the
agent from the checkout. dpkg installs, upgrades, removes and purges it in a scratch root with the
real maintainer scripts (`dpkg --root` + `--force-script-chrootless`, which sets DPKG_ROOT for them),
and lintian finds nothing to say when it is installed.

The PyInstaller build takes about a minute of CPU; it is skipped only where dpkg-deb is missing (not
Debian), and then fails when CI is set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from fleetward import __version__
from fleetward.recorded.model import default_devices_dir

ROOT = Path(__file__).resolve().parents[2]
DEVICES = default_devices_dir()
APP = Path("usr/lib/fleetward-agent/fleetward-agent")

pytestmark = pytest.mark.slow


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_deb", ROOT / "packaging" / "debian" / "build_deb.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def deb() -> Path:
    if shutil.which("dpkg-deb") is None:
        if os.environ.get("CI"):
            pytest.fail("dpkg-deb is missing: CI builds the laptop package on Debian")
        pytest.skip("dpkg-deb is missing (not Debian): the laptop package cannot be built here")
    return Path(_build_module().build(reuse=True))


@pytest.fixture(scope="session")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _packaged(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["env", "-i", *(f"{k}={v}" for k, v in (env or {}).items()), str(root / APP), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )


def _checkout_check(device: Path) -> tuple[int, dict[str, str]]:
    """The agent from the checkout on the same device: what the packaged one must answer."""
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "check", "--device", str(device), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")},
    )
    return done.returncode, {r["policy_id"]: r["status"] for r in json.loads(done.stdout)}


def test_the_package_is_named_and_described_for_dpkg(deb: Path) -> None:
    assert deb.name == f"fleetward-agent_{__version__}_amd64.deb"
    assert _field(deb, "Package") == "fleetward-agent"
    assert _field(deb, "Version") == __version__
    assert _field(deb, "Depends").startswith("libc6 (>= 2.")
    assert "python3" not in _field(deb, "Depends")  # it carries its own runtime
    listing = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=True).stdout
    assert listing  # control archive present
    conffiles = subprocess.run(
        ["dpkg-deb", "--info", str(deb), "conffiles"], capture_output=True, text=True, check=True
    ).stdout
    assert conffiles.split() == ["/etc/fleetward/agent.toml"]


def test_the_package_carries_the_frozen_agent_unit_and_config(unpacked: Path) -> None:
    assert (unpacked / APP).stat().st_mode & stat.S_IXUSR
    assert (unpacked / "usr/bin/fleetward-agent").resolve() == (unpacked / APP).resolve()
    assert (unpacked / "usr/lib/fleetward-agent/_internal/fleetward/_catalogue/policies").is_dir()
    unit = (unpacked / "lib/systemd/system/fleetward-agent.service").read_text()
    assert "ExecStart=/usr/bin/fleetward-agent run" in unit
    assert (unpacked / "etc/fleetward/agent.toml").is_file()
    assert stat.S_IMODE((unpacked / "etc/fleetward").stat().st_mode) == 0o700
    assert (unpacked / "usr/share/doc/fleetward-agent/copyright").is_file()


@pytest.mark.parametrize(
    "device",
    [
        "ubuntu-2404-compliant",
        "ubuntu-2204-luks-data-only",
        "macos-15-filevault-off",
        "win11-24h2-ent-wmi-error",
    ],
)
def test_the_packaged_binary_with_an_empty_environment_evaluates_a_recorded_device(
    unpacked: Path, device: str
) -> None:
    recorded = DEVICES / f"{device}.yaml"
    done = _packaged(unpacked, "check", "--device", str(recorded), "--format", "json")
    assert "Traceback" not in done.stderr
    verdicts = {r["policy_id"]: r["status"] for r in json.loads(done.stdout)}
    assert (done.returncode, verdicts) == _checkout_check(recorded)
    assert set(verdicts.values()) - {"not_applicable"}  # it evaluated something


def test_the_packaged_binary_knows_its_version_and_reads_status_without_writing(
    unpacked: Path, tmp_path: Path
) -> None:
    version = _packaged(unpacked, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"fleetward-agent {__version__}"
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    config.chmod(0o600)
    shown = _packaged(unpacked, "status", "--format", "json", env={"FLEETWARD_CONFIG_FILE": str(config)})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["agent_version"] == __version__
    assert not (tmp_path / "state").exists()


@pytest.fixture
def dpkg_root(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("installing into a scratch root with dpkg --root needs root (CI runs as root)")
    root = tmp_path / "root"
    for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / folder).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    return root


def _dpkg(root: Path, *args: str) -> None:
    # The scratch root has no libc6 or init-system-helpers registered: --force-depends.
    subprocess.run(
        ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", *args],
        check=True,
        capture_output=True,
        text=True,
    )


def test_install_upgrade_remove_and_purge_keep_the_state_until_purge(deb: Path, dpkg_root: Path) -> None:
    state = dpkg_root / "var/lib/fleetward"
    _dpkg(dpkg_root, "--install", str(deb))
    assert stat.S_IMODE(state.stat().st_mode) == 0o700  # postinst: owner-only
    assert (dpkg_root / APP).is_file()
    (state / "agent.db").write_text("the outbox")  # stands for the agent's data: the scripts must keep it
    config = dpkg_root / "etc/fleetward/agent.toml"
    config.write_text('collector_url = "https://collector.example.nhs.uk"\n')

    _dpkg(dpkg_root, "--force-confold", "--install", str(deb))  # an upgrade (same version reinstalled)
    assert (state / "agent.db").read_text() == "the outbox"
    assert "collector.example.nhs.uk" in config.read_text()

    _dpkg(dpkg_root, "--remove", "fleetward-agent")
    assert not (dpkg_root / APP).exists()
    assert (state / "agent.db").exists()  # remove keeps the state and config
    assert config.exists()

    _dpkg(dpkg_root, "--purge", "fleetward-agent")
    assert not state.exists()
    assert not (dpkg_root / "etc/fleetward").exists()


def test_lintian_finds_nothing(deb: Path) -> None:
    lintian = shutil.which("lintian")
    if lintian is None:
        pytest.skip("lintian is not installed (apt-get install lintian)")
    done = subprocess.run([lintian, "--fail-on", "warning", str(deb)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
