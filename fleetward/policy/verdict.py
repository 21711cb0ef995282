"""Verdict semantics: the contract between osquery's answer and an auditor's status.

- platform not in the policy's platforms          -> not_applicable
- a query error, timeout or missing table          -> error (with the message)
- a `compliant` value that is not 0 or 1           -> error
- zero rows                                        -> fail
- rows with a `compliant` column                   -> pass only if every row says 1
- rows without a `compliant` column                -> pass (Fleet's "rows mean pass" policies)

An error is never a pass. The rows are kept as evidence, capped in count and size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from fleetward.policy.model import Platform, Policy

EVIDENCE_MAX_ROWS = 20
EVIDENCE_MAX_BYTES = 4096
ERROR_MAX_CHARS = 2000
COMPLIANT_COLUMN = "compliant"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


Row = dict[str, str]


@dataclass(frozen=True)
class QueryOutcome:
    """What osquery answered: rows of strings, or an error message. Never both."""

    rows: tuple[Row, ...] = ()
    error: str | None = None
    duration_ms: float | None = None

    @classmethod
    def ok(cls, rows: list[Row] | tuple[Row, ...], duration_ms: float | None = None) -> QueryOutcome:
        return cls(rows=tuple(rows), duration_ms=duration_ms)

    @classmethod
    def failed(cls, message: str, duration_ms: float | None = None) -> QueryOutcome:
        return cls(error=message or "query failed without a message", duration_ms=duration_ms)


class Result(BaseModel):
    """One policy's verdict on one device at one evaluation. Shared by agent, wire and collector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: Annotated[str, Field(max_length=100)]
    policy_version: Annotated[str, Field(min_length=1, max_length=64)]
    status: Status
    evidence: Annotated[list[dict[str, str]], Field(max_length=EVIDENCE_MAX_ROWS)] = Field(
        default_factory=list
    )
    evidence_truncated: bool = False
    error: Annotated[str | None, Field(max_length=ERROR_MAX_CHARS)] = None
    duration_ms: Annotated[float | None, Field(ge=0)] = None


def evaluate(policy: Policy, platform: Platform, outcome: QueryOutcome | None) -> Result:
    """Turn osquery's answer into a verdict. `outcome` is None when the policy was not run."""
    if not policy.applies_to(platform):
        return _result(policy, Status.NOT_APPLICABLE)
    if outcome is None:
        return _result(policy, Status.ERROR, error="the query was not run")
    duration = outcome.duration_ms
    if outcome.error is not None:
        return _result(policy, Status.ERROR, error=outcome.error, duration_ms=duration)
    rows = list(outcome.rows)
    evidence, truncated = cap_evidence(rows)
    if not rows:
        return _result(policy, Status.FAIL, duration_ms=duration)
    status, error = _judge_rows(rows)
    return _result(policy, status, evidence=evidence, truncated=truncated, error=error, duration_ms=duration)


def _judge_rows(rows: list[Row]) -> tuple[Status, str | None]:
    if not any(COMPLIANT_COLUMN in row for row in rows):
        return Status.PASS, None
    failing = False
    for index, row in enumerate(rows):
        value = row.get(COMPLIANT_COLUMN)
        if value is None:
            return Status.ERROR, f"row {index} has no `{COMPLIANT_COLUMN}` column while others do"
        normalised = value.strip() if isinstance(value, str) else value
        if normalised == "1":
            continue
        if normalised == "0":
            failing = True
            continue
        return Status.ERROR, f"row {index}: `{COMPLIANT_COLUMN}` is {value!r}; a policy must return 0 or 1"
    return (Status.FAIL if failing else Status.PASS), None


def cap_evidence(rows: list[Row]) -> tuple[list[dict[str, str]], bool]:
    """Keep at most EVIDENCE_MAX_ROWS rows and EVIDENCE_MAX_BYTES of JSON; say if anything was cut."""
    kept: list[dict[str, str]] = []
    size = 2
    for row in rows[:EVIDENCE_MAX_ROWS]:
        clean = {str(k): "" if v is None else str(v) for k, v in row.items()}
        row_size = len(json.dumps(clean, ensure_ascii=False).encode("utf-8")) + 1
        if size + row_size > EVIDENCE_MAX_BYTES:
            return kept, True
        kept.append(clean)
        size += row_size
    return kept, len(rows) > len(kept)


def _result(
    policy: Policy,
    status: Status,
    *,
    evidence: list[dict[str, str]] | None = None,
    truncated: bool = False,
    error: str | None = None,
    duration_ms: float | None = None,
) -> Result:
    if error is not None and len(error) > ERROR_MAX_CHARS:
        error = error[: ERROR_MAX_CHARS - 1] + "…"
    return Result(
        policy_id=policy.id,
        policy_version=policy.version,
        status=status,
        evidence=evidence or [],
        evidence_truncated=truncated,
        error=error,
        duration_ms=duration_ms,
    )
