"""What auditors read: the fleet's state at an instant, devices, their history, and policies."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from collector.api.deps import Context, Reader
from collector.api.schemas import (
    BaselineInfo,
    DeviceEvent,
    DeviceHistory,
    DeviceInfo,
    DevicePage,
    FleetPair,
    FleetState,
    Instant,
    PlatformCounts,
    PolicyCounts,
    PolicyInfo,
    RunInfo,
    StatusCounts,
)
from collector.api.views import waiver_info
from collector.domain.state import AuditStatus
from collector.errors import ApiError, NotFound
from collector.reports.baselines import provenance_fields
from collector.store.fleet_state import StateFilter, fleet_counts, fleet_pairs
from collector.store.history import baselines_in_force
from collector.store.models import AgentEventRow, Device, Policy, PolicyVersion, StatusRun
from collector.store.waivers import list_waivers
from fleetward.policy.model import Platform
from fleetward.wire import ErrorBody, ErrorCode

router = APIRouter(prefix="/v1", tags=["fleet"])
_ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 422)}

PolicyFilter = Annotated[str | None, Query(max_length=100, description="Only this policy id")]
PracticeFilter = Annotated[str | None, Query(max_length=40, description="Only devices of this practice")]
Cursor = Annotated[str | None, Query(max_length=1000, description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _encode(parts: Iterable[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> tuple[str, ...]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            422, ErrorCode.INVALID_REQUEST, "cursor is not one this API issued; start without it"
        ) from exc
    if not isinstance(parts, list) or len(parts) != size or not all(isinstance(p, str) for p in parts):
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "cursor is not one this API issued; start without it")
    return tuple(parts)


def _tally(counter: Counter[str]) -> StatusCounts:
    return StatusCounts(
        total=sum(counter.values()),
        compliant=sum(n for status, n in counter.items() if AuditStatus(status).compliant),
        by_status={s.value: counter.get(s.value, 0) for s in AuditStatus},
    )


@router.get(
    "/fleet/state", response_model=FleetState, responses=_ERRORS, summary="Every pair's status at an instant"
)
def get_fleet_state(
    ctx: Context,
    _who: Reader,
    at: Annotated[Instant | None, Query(description="ISO 8601 instant with offset; default now")] = None,
    policy: PolicyFilter = None,
    platform: Platform | None = None,
    practice: PracticeFilter = None,
    status: Annotated[
        AuditStatus | None, Query(description="Only pairs with this status (list only)")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> FleetState:
    instant = at or ctx.clock.now()
    validity = ctx.settings.validity
    flt = StateFilter(policy_id=policy, platform=platform.value if platform else None, practice=practice)
    after = _decode(cursor, 3) if cursor else None
    with ctx.db.read() as session:
        counts = fleet_counts(session, instant, validity=validity, flt=flt)
        rows = fleet_pairs(
            session,
            instant,
            validity=validity,
            flt=flt,
            status=status,
            after=(after[0], after[1], after[2]) if after else None,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    totals: Counter[str] = Counter()
    per_policy: dict[str, Counter[str]] = {}
    per_platform: dict[str, Counter[str]] = {}
    for (policy_id, plat, state), n in counts.items():
        totals[state] += n
        per_policy.setdefault(policy_id, Counter())[state] += n
        per_platform.setdefault(plat, Counter())[state] += n
    pairs = [
        FleetPair(
            device_id=r.device_id,
            hostname=r.hostname,
            platform=r.platform,
            practice=r.practice,
            policy_id=r.policy_id,
            status=r.status,
            observed=r.observed,
            policy_version=r.policy_version,
            since=r.since,
            last_seen=r.last_seen,
            failing_since=r.failing_since,
            days_out_of_compliance=(
                None if r.failing_since is None else (instant - r.failing_since).total_seconds() / 86400
            ),
        )
        for r in rows
    ]
    last = rows[-1] if rows else None
    return FleetState(
        at=instant,
        validity_seconds=int(validity.total_seconds()),
        totals=_tally(totals),
        by_policy=[
            PolicyCounts(policy_id=k, **_tally(v).model_dump()) for k, v in sorted(per_policy.items())
        ],
        by_platform=[
            PlatformCounts(platform=k, **_tally(v).model_dump()) for k, v in sorted(per_platform.items())
        ],
        pairs=pairs,
        next_cursor=_encode((last.hostname, last.device_id, last.policy_id)) if more and last else None,
    )


def device_info(d: Device) -> DeviceInfo:
    return DeviceInfo(
        device_id=d.id,
        hostname=d.hostname,
        platform=Platform(d.platform),
        os_name=d.os_name,
        os_version=d.os_version,
        practice=d.practice,
        hardware_uuid=d.hardware_uuid,
        hardware_serial=d.hardware_serial,
        agent_version=d.agent_version,
        enrolled_at=d.enrolled_at,
        last_enrolled_at=d.last_enrolled_at,
        last_report_at=d.last_report_at,
    )


@router.get("/devices", response_model=DevicePage, responses=_ERRORS, summary="Enrolled devices")
def get_devices(
    ctx: Context, _who: Reader, practice: PracticeFilter = None, cursor: Cursor = None, limit: Limit = 100
) -> DevicePage:
    query = select(Device).order_by(Device.hostname, Device.id).limit(limit + 1)
    if practice is not None:
        query = query.where(Device.practice == practice)
    if cursor:
        hostname, device_id = _decode(cursor, 2)
        query = query.where(
            (Device.hostname > hostname) | ((Device.hostname == hostname) & (Device.id > device_id))
        )
    with ctx.db.read() as session:
        found = list(session.scalars(query))
    more = len(found) > limit
    found = found[:limit]
    return DevicePage(
        devices=[device_info(d) for d in found],
        next_cursor=_encode((found[-1].hostname, found[-1].id)) if more else None,
    )


@router.get(
    "/devices/{device_id}/history",
    response_model=DeviceHistory,
    responses=_ERRORS,
    summary="Every transition of a device, and the waivers that cover it",
)
def get_device_history(
    device_id: str,
    ctx: Context,
    _who: Reader,
    policy: PolicyFilter = None,
    since: Annotated[Instant | None, Query(description="Only runs still going at or after this")] = None,
    until: Annotated[Instant | None, Query(description="Only runs started at or before this")] = None,
) -> DeviceHistory:
    with ctx.db.read() as session:
        device = session.get(Device, device_id)
        if device is None:
            raise NotFound("device", device_id)
        query = select(StatusRun).where(StatusRun.device_id == device_id)
        if policy is not None:
            query = query.where(StatusRun.policy_id == policy)
        if since is not None:
            query = query.where((StatusRun.next_since.is_(None)) | (StatusRun.next_since > since))
        if until is not None:
            query = query.where(StatusRun.since <= until)
        runs = list(session.scalars(query.order_by(StatusRun.policy_id, StatusRun.since)))
        waivers = list_waivers(session, device_id=device_id, policy_id=policy)
        events = list(
            session.scalars(
                select(AgentEventRow)
                .where(AgentEventRow.device_id == device_id)
                .order_by(AgentEventRow.at.desc(), AgentEventRow.id.desc())
                .limit(500)
            )
        )[::-1]
        return DeviceHistory(
            device=device_info(device),
            runs=[
                RunInfo(
                    policy_id=r.policy_id,
                    status=r.status,
                    policy_version=r.policy_version,
                    since=r.since,
                    last_seen=r.last_seen,
                    failing_since=r.failing_since,
                    evidence=list(r.evidence or []),
                    error=r.error,
                    report_id=r.report_id,
                )
                for r in runs
            ],
            waivers=[waiver_info(w) for w in waivers],
            events=[
                DeviceEvent(kind=e.kind, at=e.at, message=e.message, report_id=e.report_id) for e in events
            ],
        )


@router.get(
    "/policies/baselines",
    response_model=list[BaselineInfo],
    responses=_ERRORS,
    summary="Each patch baseline's provenance and whether it covers an instant",
)
def get_baselines(
    ctx: Context,
    _who: Reader,
    at: Annotated[Instant | None, Query(description="ISO 8601 instant with offset; default now")] = None,
) -> list[BaselineInfo]:
    """The baselines of the newest published bundle (else the shipped catalogue): `stale` means the
    policies reading one are `error` on agents at the instant (docs/policies.md)."""
    instant = at or ctx.clock.now()
    with ctx.db.read() as session:
        baselines = baselines_in_force(session)
    return [BaselineInfo(**provenance_fields(b, instant)) for b in baselines]


@router.get("/policies", response_model=list[PolicyInfo], responses=_ERRORS, summary="The policy registry")
def get_policies(ctx: Context, _who: Reader) -> list[PolicyInfo]:
    with ctx.db.read() as session:
        versions: dict[str, list[str]] = {}
        for pid, version in session.execute(
            select(PolicyVersion.policy_id, PolicyVersion.version).order_by(
                PolicyVersion.policy_id, PolicyVersion.first_seen_at, PolicyVersion.version
            )
        ):
            versions.setdefault(pid, []).append(version)
        return [
            PolicyInfo(
                id=p.id,
                version=p.version,
                title=p.title,
                severity=p.severity,
                platforms=list(p.platforms),
                grace_seconds=p.grace_seconds,
                frameworks={k: list(v) for k, v in p.frameworks.items()},
                baseline=p.baseline,
                source=p.source,
                versions=versions.get(p.id, []),
            )
            for p in session.scalars(select(Policy).order_by(Policy.id))
        ]
