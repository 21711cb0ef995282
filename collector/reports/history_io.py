"""A `FleetHistory` as a JSON document (`fleetward.fleet-history/v1`), so a report can be built
from a remote collector (`GET /v1/reports/history`) exactly as from its database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from collector.domain.fleet import BundleRecord, DeviceRecord, FleetHistory, LateReport, PolicyRecord
from collector.domain.runs import Run
from collector.domain.state import Waiver
from collector.reports.errors import ReportSourceError
from fleetward.policy.baseline import Baseline

HISTORY_FORMAT = "fleetward.fleet-history/v1"


class PairRuns(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str
    policy_id: str
    runs: list[Run]


class HistoryDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["fleetward.fleet-history/v1"] = "fleetward.fleet-history/v1"
    devices: list[DeviceRecord]
    policies: list[PolicyRecord]
    runs: list[PairRuns]
    waivers: list[Waiver]
    validity: timedelta
    bundles: list[BundleRecord]
    controls: dict[str, dict[str, str]]
    framework_titles: dict[str, str]
    baselines: list[Baseline] = []
    late_reports: list[LateReport] = []
    known_at: datetime | None = None


def history_to_json(history: FleetHistory) -> bytes:
    document = HistoryDocument.model_construct(
        format="fleetward.fleet-history/v1",
        devices=list(history.devices),
        policies=list(history.policies),
        runs=[
            PairRuns.model_construct(device_id=device_id, policy_id=policy_id, runs=list(runs))
            for (device_id, policy_id), runs in sorted(history.runs.items())
        ],
        waivers=list(history.waivers),
        validity=history.validity,
        bundles=list(history.bundles),
        controls={k: dict(v) for k, v in history.controls.items()},
        framework_titles=dict(history.framework_titles),
        baselines=list(history.baselines),
        late_reports=list(history.late_reports),
        known_at=history.known_at,
    )
    return document.model_dump_json().encode("utf-8")


def history_from_json(data: bytes, origin: str) -> FleetHistory:
    try:
        document = HistoryDocument.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ReportSourceError(
            f"{origin} did not send a {HISTORY_FORMAT} document ({exc.error_count()} problems; first at "
            f"{where or 'top level'}: {first['msg']}); is it a fleetward collector of the same version?"
        ) from exc
    return FleetHistory(
        devices=tuple(document.devices),
        policies=tuple(document.policies),
        runs={(p.device_id, p.policy_id): tuple(p.runs) for p in document.runs},
        waivers=tuple(document.waivers),
        validity=document.validity,
        bundles=tuple(document.bundles),
        controls=document.controls,
        framework_titles=document.framework_titles,
        baselines=tuple(document.baselines),
        late_reports=tuple(document.late_reports),
        known_at=document.known_at,
    )
