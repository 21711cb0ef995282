"""The policy model: one YAML file per policy, validated strictly, versioned by content digest."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fleetward.platform import Platform

__all__ = ["POLICY_ID_PATTERN", "ControlId", "Platform", "Policy", "Severity", "content_digest"]

POLICY_ID_PATTERN = r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


ControlId = Annotated[str, Field(min_length=1, max_length=40)]


class Policy(BaseModel):
    """A compliance check: osquery SQL plus what an auditor needs to know about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=POLICY_ID_PATTERN, max_length=100)]
    title: Annotated[str, Field(min_length=3, max_length=200)]
    severity: Severity
    platforms: Annotated[tuple[Platform, ...], Field(min_length=1)]
    rationale: Annotated[str, Field(min_length=10)]
    remediation: Annotated[str, Field(min_length=10)]
    frameworks: dict[str, tuple[ControlId, ...]] = Field(default_factory=dict)
    grace: timedelta = timedelta(0)
    baseline: str | None = Field(
        default=None,
        description="Name of the baseline (file stem under policies/baselines/) rendered into the query "
        "as the `baseline` table.",
    )
    query: Annotated[str, Field(min_length=10)]
    references: tuple[str, ...] = ()

    @field_validator("platforms")
    @classmethod
    def _platforms_unique(cls, value: tuple[Platform, ...]) -> tuple[Platform, ...]:
        if len(set(value)) != len(value):
            raise ValueError("platforms are listed more than once")
        return value

    @field_validator("grace")
    @classmethod
    def _grace_not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("grace must not be negative (use P0D for none)")
        return value

    @field_validator("query")
    @classmethod
    def _single_select(cls, value: str) -> str:
        text = value.strip().rstrip(";").strip()
        if ";" in _strip_sql_strings(text):
            raise ValueError("query must be a single SELECT statement (found ';')")
        if not re.match(r"(?is)^\s*(select|with)\b", text):
            raise ValueError("query must start with SELECT or WITH")
        return text

    @cached_property
    def version(self) -> str:
        """A digest of the normalised content: changes whenever anything an auditor relies on does."""
        return content_digest(self.model_dump(mode="json"))

    def applies_to(self, platform: Platform) -> bool:
        return platform in self.platforms


def content_digest(payload: object) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _strip_sql_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)
