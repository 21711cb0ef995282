# fleetward: everything installs from this repository's own files (uv with uv.lock).
# Needs only Python 3.11+ and make; uv itself is installed into .tools/ on first use.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --no-sync
DEMO_OUT ?= demo-out

.PHONY: demo plan collector-image test check lint typecheck format bench sync-dev package clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

## The main job: a simulated fleet through agent, collector and reports, on embedded defaults.
## The infra extra is synced too, so `fleetward infra plan` (quickstart step 5) works afterwards.
demo: $(UV)
	$(UV) sync --locked --inexact --extra agent --extra collector --extra infra
	$(RUN) fleetward demo --out $(DEMO_OUT)

## The Azure estate, offline: every resource of the example stack and the policy verdicts.
## --inexact keeps the other extras installed (a plain `uv sync --extra infra` removes them).
plan: $(UV)
	$(UV) sync --locked --inexact --extra infra
	$(RUN) fleetward infra plan --config Pulumi.example.yaml

## The collector's container image (needs a container engine; none runs on the development machine).
COLLECTOR_IMAGE ?= fleetward-collector:dev
collector-image:
	docker build -f packaging/collector/Dockerfile -t $(COLLECTOR_IMAGE) .

sync-dev: $(UV)
	$(UV) sync --locked --extra dev

## The tests (README's second command). Browser tests need Chromium: scripts/ensure-chromium.sh.
test: sync-dev
	-@sh scripts/ensure-chromium.sh
	$(RUN) python -m pytest

## The laptop package: dist/fleetward-agent_<version>_amd64.deb, the agent frozen with its own Python
## (PyInstaller) plus the systemd unit, a default config and maintainer scripts. Needs dpkg-deb (Debian).
package: sync-dev
	$(RUN) python packaging/debian/build_deb.py

lint: sync-dev
	$(RUN) ruff format --check .
	$(RUN) ruff check .

typecheck: sync-dev
	$(RUN) mypy

check: lint typecheck test

format: sync-dev
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: sync-dev
	$(RUN) python -m bench

clean:
	rm -rf $(TOOLS) .venv .mypy_cache .ruff_cache .pytest_cache $(DEMO_OUT) test-artifacts build dist
