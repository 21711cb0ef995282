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

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fleetward.bounds import SAFE_TEXT, VERSION_PATTERN
from fleetward.policy.model import POLICY_ID_PATTERN, Platform, Policy

EVIDENCE_MAX_ROWS = 20
EVIDENCE_MAX_COLUMNS = 100  # osquery's widest tables have about 60
EVIDENCE_MAX_BYTES = 4096
ERROR_MAX_CHARS = 2000
COMPLIANT_COLUMN = "compliant"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


Row = dict[str, str]
PolicyId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=POLICY_ID_PATTERN)]
PolicyVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
EvidenceText = Annotated[str, StringConstraints(max_length=EVIDENCE_MAX_BYTES), SAFE_TEXT]
EvidenceRow = Annotated[dict[EvidenceText, EvidenceText], Field(max_length=EVIDENCE_MAX_COLUMNS)]


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

    policy_id: PolicyId
    policy_version: PolicyVersion
    status: Status
    evidence: Annotated[list[EvidenceRow], Field(max_length=EVIDENCE_MAX_ROWS)] = Field(
        default_factory=list,
        description=f"At most {EVIDENCE_MAX_ROWS} rows and {EVIDENCE_MAX_BYTES} bytes of JSON (`evidence_size`)",
    )
    evidence_truncated: bool = False
    error: Annotated[str | None, StringConstraints(max_length=ERROR_MAX_CHARS), SAFE_TEXT] = None
    duration_ms: Annotated[float | None, Field(ge=0, le=86_400_000)] = None

    @model_validator(mode="after")
    def _evidence_within_cap(self) -> Result:
        size = evidence_size(self.evidence)
        if size > EVIDENCE_MAX_BYTES:
            raise ValueError(
                f"evidence of policy {self.policy_id!r} is {size} bytes of JSON, over the cap of "
                f"{EVIDENCE_MAX_BYTES}; cap it as the agent does (`cap_evidence`) and set evidence_truncated"
            )
        return self


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


def _row_size(row: dict[str, str]) -> int:
    return len(json.dumps(row, ensure_ascii=False).encode("utf-8", "surrogatepass")) + 1


def evidence_size(rows: list[dict[str, str]]) -> int:
    """The measure both sides use: JSON bytes of the rows, one separator each, plus the brackets."""
    return 2 + sum(_row_size(row) for row in rows)


def cap_evidence(rows: list[Row]) -> tuple[list[dict[str, str]], bool]:
    """Keep at most EVIDENCE_MAX_ROWS rows of EVIDENCE_MAX_COLUMNS columns and EVIDENCE_MAX_BYTES of
    JSON, with NUL and lone surrogates replaced (the collector refuses them); say if anything was cut."""
    kept: list[dict[str, str]] = []
    size = 2
    cut = False
    for row in rows[:EVIDENCE_MAX_ROWS]:
        items = list(row.items())
        cut = cut or len(items) > EVIDENCE_MAX_COLUMNS
        clean = {_clean(k): "" if v is None else _clean(v) for k, v in items[:EVIDENCE_MAX_COLUMNS]}
        row_size = _row_size(clean)
        if size + row_size > EVIDENCE_MAX_BYTES:
            return kept, True
        kept.append(clean)
        size += row_size
    return kept, cut or len(rows) > len(kept)


def _clean(value: object) -> str:
    # osquery answers text; a NUL or an undecodable byte is shown, not sent raw.
    text = str(value).replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _result(
    policy: Policy,
    status: Status,
    *,
    evidence: list[dict[str, str]] | None = None,
    truncated: bool = False,
    error: str | None = None,
    duration_ms: float | None = None,
) -> Result:
    if error is not None:
        error = _clean(error)
        if len(error) > ERROR_MAX_CHARS:
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
