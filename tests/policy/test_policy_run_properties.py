"""evaluate_catalogue and the verdict contract, pinned with properties: an error is never a pass."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from fleetward.errors import QueryError
from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.model import Platform
from fleetward.policy.run import evaluate_catalogue
from fleetward.policy.verdict import EVIDENCE_MAX_BYTES, EVIDENCE_MAX_ROWS, QueryOutcome, Status, evaluate

CATALOGUE = load_catalogue()
AT = datetime(2026, 7, 1, tzinfo=UTC)  # every shipped baseline holds the floors in force then
POLICY = CATALOGUE.policy("encryption-windows-bitlocker")

text = st.text(max_size=12)
rows = st.lists(st.dictionaries(text, text, max_size=4), max_size=30)
not_a_flag = text.filter(lambda v: v.strip() not in {"0", "1"})


@given(message=st.text(max_size=50), rows=rows)
def test_a_query_error_is_always_an_error(message: str, rows: list[dict[str, str]]) -> None:
    result = evaluate(POLICY, Platform.WINDOWS, QueryOutcome(rows=tuple(rows), error=message))
    assert result.status is Status.ERROR


@given(rows=rows, bad=not_a_flag, where=st.integers(min_value=0, max_value=29))
def test_a_malformed_compliant_value_is_never_a_pass(
    rows: list[dict[str, str]], bad: str, where: int
) -> None:
    rows = [dict(r, compliant="1") for r in rows] or [{"compliant": "1"}]
    rows[where % len(rows)]["compliant"] = bad
    result = evaluate(POLICY, Platform.WINDOWS, QueryOutcome.ok(rows))
    assert result.status is Status.ERROR


@given(flags=st.lists(st.sampled_from(["0", "1", " 1", "0 "]), min_size=1, max_size=30))
def test_pass_only_when_every_row_is_compliant(flags: list[str]) -> None:
    outcome = QueryOutcome.ok([{"compliant": f, "n": str(i)} for i, f in enumerate(flags)])
    result = evaluate(POLICY, Platform.WINDOWS, outcome)
    assert (result.status is Status.PASS) == all(f.strip() == "1" for f in flags)
    assert result.status in {Status.PASS, Status.FAIL}


@given(rows=st.lists(st.dictionaries(text, text, min_size=1, max_size=4), min_size=1, max_size=30))
def test_rows_without_a_compliant_column_pass_and_evidence_is_capped(rows: list[dict[str, str]]) -> None:
    rows = [{k: v for k, v in r.items() if k != "compliant"} or {"x": "1"} for r in rows]
    result = evaluate(POLICY, Platform.WINDOWS, QueryOutcome.ok(rows))
    assert result.status is Status.PASS
    assert len(result.evidence) <= EVIDENCE_MAX_ROWS
    assert result.evidence_truncated == (len(result.evidence) < len(rows))


def test_zero_rows_fail_and_other_platforms_are_not_applicable() -> None:
    assert evaluate(POLICY, Platform.WINDOWS, QueryOutcome.ok([])).status is Status.FAIL
    assert (
        evaluate(POLICY, Platform.LINUX, QueryOutcome.ok([{"compliant": "1"}])).status
        is Status.NOT_APPLICABLE
    )


def test_large_rows_are_capped_by_size() -> None:
    rows = [{"blob": "x" * 1000, "compliant": "1"} for _ in range(10)]
    result = evaluate(POLICY, Platform.WINDOWS, QueryOutcome.ok(rows))
    assert result.evidence_truncated
    assert sum(len(str(r)) for r in result.evidence) <= EVIDENCE_MAX_BYTES


def test_query_errors_from_run_query_become_error_results_with_the_message() -> None:
    def broken(sql: str) -> list[dict[str, str]]:
        raise QueryError("no such table: bitlocker_info")

    results = evaluate_catalogue(CATALOGUE, Platform.WINDOWS, broken, AT)
    applicable = [r for r in results if r.status is not Status.NOT_APPLICABLE]
    assert applicable
    assert all(r.status is Status.ERROR for r in applicable)
    assert all(r.error == "no such table: bitlocker_info" for r in applicable)


@given(
    answer=st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.integers(), min_size=1),
        st.lists(st.dictionaries(text, st.integers(), min_size=1), min_size=1),
        st.lists(st.dictionaries(st.integers(), text, min_size=1), min_size=1),
    )
)
def test_an_answer_of_the_wrong_shape_is_an_error_never_a_pass(answer: object) -> None:
    results = evaluate_catalogue(CATALOGUE, Platform.WINDOWS, lambda sql: answer, AT)  # type: ignore[arg-type,return-value]
    assert {r.status for r in results} <= {Status.ERROR, Status.NOT_APPLICABLE}


def test_not_applicable_policies_never_reach_osquery_and_sql_is_rendered() -> None:
    seen: list[str] = []

    def record(sql: str) -> list[dict[str, str]]:
        seen.append(sql)
        return [{"compliant": "1"}]

    results = evaluate_catalogue(CATALOGUE, Platform.DARWIN, record, AT)
    assert len(seen) == len(CATALOGUE.for_platform(Platform.DARWIN))
    assert any(s.startswith("WITH baseline(") for s in seen)
    assert [r.policy_id for r in results] == [p.id for p in CATALOGUE.policies]


def test_durations_come_from_the_injected_timer() -> None:
    ticks = count(step=0.25)
    results = evaluate_catalogue(
        CATALOGUE, Platform.LINUX, lambda sql: [{"compliant": "1"}], AT, timer=lambda: next(ticks)
    )
    assert {r.duration_ms for r in results if r.status is Status.PASS} == {250.0}


def test_policies_argument_limits_what_runs() -> None:
    chosen = [CATALOGUE.policy("firewall-windows-on")]
    results = evaluate_catalogue(
        CATALOGUE, Platform.WINDOWS, lambda sql: [{"compliant": "0"}], AT, policies=chosen
    )
    assert [(r.policy_id, r.status) for r in results] == [("firewall-windows-on", Status.FAIL)]
