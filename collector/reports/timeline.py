"""Every pair's status at the report instant and at each trend sample, computed fast enough for
100,000 devices x 15 policies.

The status of a pair is a step function of time. It can only change at a run's start, when a run
goes stale (last_seen + validity), when a failure leaves its grace (a run start + grace), at a
waiver's start, expiry or revocation, and at enrolment. Between two such breakpoints it is
constant, so `sample_states` calls the domain's `pair_state_at` only at the first sample after
each breakpoint instead of at every sample; most pairs need one call for the whole trend.
The rule for which pairs exist is `collector.domain.fleet.fleet_state_at`'s (a test holds them
equal); this module adds an index of waivers so the lookup is not a scan of every waiver.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from collector.domain.fleet import DeviceRecord, PairKey, PolicyRecord
from collector.domain.runs import Run
from collector.domain.state import PairState, Waiver, active_waiver, pair_state_at


class WaiverIndex:
    """Waivers by (policy, device) and (policy, practice): the candidates for one pair."""

    def __init__(self, waivers: Sequence[Waiver]) -> None:
        self._by_device: dict[tuple[str, str], list[Waiver]] = defaultdict(list)
        self._by_practice: dict[tuple[str, str], list[Waiver]] = defaultdict(list)
        for waiver in waivers:
            if waiver.device_id is not None:
                self._by_device[(waiver.policy_id, waiver.device_id)].append(waiver)
            elif waiver.practice is not None:
                self._by_practice[(waiver.policy_id, waiver.practice)].append(waiver)

    def candidates(self, device: DeviceRecord, policy_id: str) -> list[Waiver]:
        found = self._by_device.get((policy_id, device.device_id), [])
        if device.practice is not None:
            found = found + self._by_practice.get((policy_id, device.practice), [])
        return found


@dataclass(slots=True)  # not frozen: 1.5 million of these are made, and frozen init is slow
class Pair:
    device: DeviceRecord
    policy: PolicyRecord
    runs: tuple[Run, ...]
    waivers: list[Waiver]
    state: PairState  # at the report instant


class RunSource(Protocol):
    """Where a device's runs come from: the whole `FleetHistory`, or one page of a stream."""

    @property
    def runs(self) -> Mapping[PairKey, tuple[Run, ...]]: ...

    @property
    def validity(self) -> timedelta: ...


def device_pairs(
    history: RunSource,
    device: DeviceRecord,
    policies: Sequence[PolicyRecord],
    index: WaiverIndex,
    at: datetime,
) -> list[Pair]:
    """The device's pairs at `at` (policies sorted by id), as `fleet_state_at` defines them."""
    pairs: list[Pair] = []
    if device.enrolled_at > at:
        return pairs
    for policy in policies:
        runs = history.runs.get((device.device_id, policy.id), ())
        reported = bool(runs) and runs[0].since <= at
        if not reported and device.platform not in policy.platforms:
            continue  # cannot apply and not reported by `at`: not part of the device's picture then
        waivers = index.candidates(device, policy.id)
        state = _state(device, policy, runs, waivers, history.validity, at)
        pairs.append(Pair(device, policy, runs, waivers, state))
    return pairs


def _state(
    device: DeviceRecord,
    policy: PolicyRecord,
    runs: Sequence[Run],
    waivers: Sequence[Waiver],
    validity: timedelta,
    at: datetime,
) -> PairState:
    waiver = active_waiver(waivers, device.device_id, device.practice, policy.id, at) if waivers else None
    return pair_state_at(
        runs,
        at,
        grace=policy.grace,
        validity=validity,
        waiver=waiver,
        applies=device.platform in policy.platforms,
    )


def trend_samples(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """(day, instant) per UTC calendar day from `start`'s day to `end`'s: each day is sampled at
    its end (the next midnight), the last day at `end` itself."""
    samples: list[tuple[datetime, datetime]] = []
    day = datetime.combine(start.astimezone(UTC).date(), time(), tzinfo=UTC)
    while day <= end:
        instant = min(day + timedelta(days=1), end)
        samples.append((day, instant))
        if instant >= end:
            break
        day += timedelta(days=1)
    return samples


def _breakpoints(pair: Pair, validity: timedelta) -> list[datetime]:
    points = [pair.device.enrolled_at]
    grace = pair.policy.grace
    for run in pair.runs:
        points += (run.since, run.since + grace, run.last_seen + validity)
    for waiver in pair.waivers:
        points += (waiver.granted_at, waiver.expires_at)
        if waiver.revoked_at is not None:
            points.append(waiver.revoked_at)
    return points


Segment = tuple[int, int, PairState | None]  # samples [first, stop) share a state; None: not enrolled


def sample_states(pair: Pair, instants: Sequence[datetime], validity: timedelta) -> list[Segment]:
    """The pair's state at every instant (sorted, the last one the report instant), as segments.

    Correct because the state is constant on any closed interval free of breakpoints: a segment
    of more than one sample never contains one (a breakpoint equal to a sample ends that
    sample's segment right after it, since staleness starts just after last_seen + validity).
    """
    count = len(instants)
    if count == 0:
        return []
    first, last = instants[0], instants[-1]
    inside = [point for point in _breakpoints(pair, validity) if first <= point <= last]
    if not inside:  # the usual case: one state for the whole trend (enrolment would be inside)
        return [(0, count, pair.state)]
    starts = {0}
    for point in inside:
        index = bisect.bisect_left(instants, point)
        starts.add(index)
        if index + 1 < count and instants[index] == point:
            starts.add(index + 1)
    ordered = sorted(starts)
    segments: list[Segment] = []
    for position, begin in enumerate(ordered):
        stop = ordered[position + 1] if position + 1 < len(ordered) else count
        instant = instants[begin]
        state: PairState | None
        if pair.device.enrolled_at > instant:
            state = None
        elif stop == count:
            state = pair.state  # the segment reaching the report instant has the instant's state
        else:
            state = _state(pair.device, pair.policy, pair.runs, pair.waivers, validity, instant)
        segments.append((begin, stop, state))
    return segments
