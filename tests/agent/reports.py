"""Building reports and results for the agent's tests."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from fleetward.policy.verdict import Result, Status
from fleetward.wire import Report, ReportKind


def result(policy_id: str, status: Status = Status.PASS, version: str = "v1", evidence_kb: int = 0) -> Result:
    evidence = [{"blob": "x" * 1000} for _ in range(evidence_kb)]
    return Result(policy_id=policy_id, policy_version=version, status=status, evidence=evidence)


def report(kind: ReportKind, at: datetime, *results: Result) -> Report:
    return Report(
        report_id=uuid4(),
        kind=kind,
        observed_at=at,
        agent_version="test",
        policy_versions={r.policy_id: r.policy_version for r in results},
        results=list(results),
    )
