"""Pulumi entry point (Pulumi.yaml ``main: infra/``): validate the stack config, then build the estate."""

from infra.program import run

run()
