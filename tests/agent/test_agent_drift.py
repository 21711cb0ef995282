"""Drift: a change of status or of policy version is a transition; the last state survives restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agent.drift import PolicyStateStore, detect_drift, state_of
from agent.store import Database
from fleetward.policy.verdict import Status
from tests.agent.reports import result

AT = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def test_first_evaluation_reports_every_policy() -> None:
    current = [result("a"), result("b", Status.FAIL)]
    assert detect_drift({}, current) == current


def test_status_changes_are_transitions_and_unchanged_are_not() -> None:
    previous = {"a": (Status.PASS, "v1"), "b": (Status.FAIL, "v1"), "c": (Status.PASS, "v1")}
    current = [result("a"), result("b", Status.PASS), result("c", Status.ERROR)]
    assert [r.policy_id for r in detect_drift(previous, current)] == ["b", "c"]


def test_new_policy_version_is_a_transition_even_with_the_same_status() -> None:
    previous = {"a": (Status.PASS, "v1")}
    assert detect_drift(previous, [result("a", version="v2")]) == [result("a", version="v2")]


statuses = st.sampled_from(list(Status))
states = st.dictionaries(st.sampled_from("abcdef"), st.tuples(statuses, st.sampled_from(["v1", "v2"])))


@given(states, states)
def test_applying_the_drift_to_the_previous_state_gives_the_current_state(
    before: dict[str, tuple[Status, str]], after: dict[str, tuple[Status, str]]
) -> None:
    current = [result(pid, status, version) for pid, (status, version) in sorted(after.items())]
    changed = detect_drift(before, current)
    merged = {**before, **state_of(changed)}
    assert {k: merged[k] for k in after} == after
    assert all(before.get(r.policy_id) != (r.status, r.policy_version) for r in changed)


def test_state_store_round_trips_and_survives_reopening(tmp_path: Path) -> None:
    db = Database.in_state_dir(tmp_path / "state")
    PolicyStateStore(db).save([result("a"), result("b", Status.ERROR, "v2")], AT)
    db.close()
    reopened = Database.in_state_dir(tmp_path / "state")
    assert PolicyStateStore(reopened).load() == {"a": (Status.PASS, "v1"), "b": (Status.ERROR, "v2")}
    reopened.close()


def test_state_dir_and_database_are_owner_only(tmp_path: Path) -> None:
    db = Database.in_state_dir(tmp_path / "state")
    db.close()
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "state" / "agent.db").stat().st_mode & 0o777 == 0o600
