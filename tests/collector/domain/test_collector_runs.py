"""Status runs: placing observations by observed time, in any order, keeps point-in-time status exact."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.runs import Observation, Run, merge_observation, run_at
from collector.domain.state import AuditStatus, pair_state_at
from fleetward.policy.verdict import Status

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VALIDITY = timedelta(days=30)


def obs(hours: float, status: Status, version: str = "v1") -> Observation:
    return Observation(T0 + timedelta(hours=hours), status, version)


def merged(observations: list[Observation]) -> list[Run]:
    runs: list[Run] = []
    for o in observations:
        runs = merge_observation(runs, o, VALIDITY).runs
    return runs


def test_unchanged_observations_extend_one_run_without_a_transition() -> None:
    first = merge_observation([], obs(0, Status.PASS), VALIDITY)
    second = merge_observation(first.runs, obs(1, Status.PASS), VALIDITY)
    assert first.transition
    assert not second.transition
    assert second.runs == [Run(Status.PASS, "v1", T0, T0 + timedelta(hours=1))]


def test_a_change_of_status_or_version_starts_a_run() -> None:
    runs = merged([obs(0, Status.PASS), obs(1, Status.FAIL), obs(2, Status.FAIL, "v2")])
    assert [(r.status, r.policy_version) for r in runs] == [
        (Status.PASS, "v1"),
        (Status.FAIL, "v1"),
        (Status.FAIL, "v2"),
    ]


def test_a_late_observation_inside_a_run_splits_it() -> None:
    runs = merged([obs(0, Status.PASS), obs(10, Status.PASS), obs(5, Status.FAIL)])
    assert [(r.status, r.since) for r in runs] == [
        (Status.PASS, T0),
        (Status.FAIL, T0 + timedelta(hours=5)),
        (Status.PASS, T0 + timedelta(hours=10)),
    ]


def test_the_same_observation_twice_changes_nothing() -> None:
    runs = merged([obs(0, Status.PASS), obs(3, Status.FAIL)])
    again = merge_observation(runs, obs(3, Status.FAIL), VALIDITY)
    assert not again.changed
    assert again.runs == runs


def test_a_silence_longer_than_validity_starts_a_new_run_even_with_the_same_status() -> None:
    runs = merged([obs(0, Status.PASS), obs(24 * 31, Status.PASS)])
    assert len(runs) == 2
    assert run_at(runs, T0 + timedelta(days=20)) == runs[0]


statuses = st.sampled_from([Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE])


@st.composite
def observation_sets(draw: st.DrawFn) -> list[Observation]:
    """Observations at distinct instants, never further apart than the validity period."""
    gaps = draw(st.lists(st.integers(min_value=1, max_value=24 * 29), min_size=1, max_size=12))
    instants: list[int] = []
    total = 0
    for gap in gaps:
        total += gap
        instants.append(total)
    return [
        Observation(T0 + timedelta(hours=h), draw(statuses), draw(st.sampled_from(["v1", "v2"])))
        for h in instants
    ]


def _retried(observations: list[Observation], swaps: list[bool]) -> list[Observation]:
    """The arrival order of an outbox where some reports failed once and were retried after the next."""
    order = list(observations)
    i = 0
    while i + 1 < len(order):
        if swaps[i % len(swaps)]:
            order[i], order[i + 1] = order[i + 1], order[i]
            i += 2
        else:
            i += 1
    return order


@settings(max_examples=300, deadline=None)
@given(observation_sets(), st.lists(st.booleans(), min_size=1, max_size=12))
def test_retried_reports_give_the_same_status_at_every_observed_instant(
    observations: list[Observation], swaps: list[bool]
) -> None:
    in_order = merged(observations)
    late = merged(_retried(observations, swaps))
    for o in observations:
        expected = pair_state_at(in_order, o.at, grace=timedelta(0), validity=VALIDITY)
        actual = pair_state_at(late, o.at, grace=timedelta(0), validity=VALIDITY)
        assert actual.status == expected.status
        assert actual.status.value == o.status.value  # and it is what was observed then
        assert actual.policy_version == o.policy_version


@settings(max_examples=300, deadline=None)
@given(observation_sets(), st.randoms(use_true_random=False))
def test_any_arrival_order_keeps_first_and_latest_status_and_never_shows_a_reporting_device_stale(
    observations: list[Observation], rnd: Random
) -> None:
    shuffled = list(observations)
    rnd.shuffle(shuffled)
    runs = merged(shuffled)
    latest = observations[-1]
    assert (
        pair_state_at(runs, latest.at, grace=timedelta(0), validity=VALIDITY).status.value
        == latest.status.value
    )
    for o in observations:
        assert (
            pair_state_at(runs, o.at, grace=timedelta(0), validity=VALIDITY).status is not AuditStatus.STALE
        )
    first = observations[0]
    assert (
        pair_state_at(runs, first.at, grace=timedelta(0), validity=VALIDITY).status.value
        == first.status.value
    )


def test_a_late_observation_inside_a_compacted_run_holds_until_the_next_known_confirmation() -> None:
    """Runs keep a run's first and last confirmation, not the ones between: what a late
    observation hides is unknown, so its verdict is kept until the next one still known."""
    runs = merged([obs(0, Status.PASS), obs(2, Status.PASS), obs(4, Status.PASS), obs(1, Status.FAIL)])
    assert [(r.status, r.since) for r in runs] == [
        (Status.PASS, T0),
        (Status.FAIL, T0 + timedelta(hours=1)),
        (Status.PASS, T0 + timedelta(hours=4)),
    ]
    before = pair_state_at(runs, T0 + timedelta(minutes=59), grace=timedelta(0), validity=VALIDITY)
    assert before.status is AuditStatus.PASS


def test_a_split_run_is_not_stale_before_the_late_observation() -> None:
    daily = [obs(24 * day, Status.PASS) for day in range(60)]
    runs = merged([*daily, obs(24 * 50 + 1, Status.FAIL)])
    assert pair_state_at(runs, T0 + timedelta(days=45), grace=timedelta(0), validity=VALIDITY).status is (
        AuditStatus.PASS
    )


@settings(max_examples=200, deadline=None)
@given(observation_sets())
def test_runs_stay_sorted_and_never_overlap(observations: list[Observation]) -> None:
    runs = merged(list(reversed(observations)))
    for previous, run in itertools.pairwise(runs):
        assert previous.since <= previous.last_seen < run.since <= run.last_seen
