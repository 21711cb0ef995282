"""Policies: the model, the verdict semantics, the catalogue loader, baselines and framework maps."""

from fleetward.policy.model import Platform, Policy, Severity
from fleetward.policy.verdict import QueryOutcome, Result, Status, evaluate

__all__ = ["Platform", "Policy", "QueryOutcome", "Result", "Severity", "Status", "evaluate"]
