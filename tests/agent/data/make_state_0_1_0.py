"""Write tests/agent/data/state-0.1.0/: an agent state directory as agent 0.1.0 (main at 4f4516c..3ff3e55,
database schema version 1) leaves it on a laptop, for tests/agent/test_agent_upgrade.py. Committed, not
regenerated: it stands for what laptops already have on disk. Made with that version's own code:

    python tests/agent/data/make_state_0_1_0.py

Three reports waiting in the outbox (a snapshot, then two transitions), the last known state of every
policy (BitLocker failing), one event waiting to ride on the next report, one dead letter, the status
facts and a device key for a collector that no longer exists (so the new agent enrolls again).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from agent.enroll import CredentialsFile, DeviceCredentials
from agent.outbox import Outbox, OutboxEntry
from agent.service import LAST_SNAPSHOT
from agent.status import StatusBook
from agent.store import Database
from fleetward.clock import ManualClock
from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.verdict import Result, Status
from fleetward.wire import EventKind, Report, ReportKind

HERE = Path(__file__).resolve().parent
TARGET = HERE / "state-0.1.0"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REPORT_IDS = [UUID(int=n) for n in (0x0101, 0x0102, 0x0103, 0x0DEAD)]


def main() -> None:
    shutil.rmtree(TARGET, ignore_errors=True)
    clock = ManualClock(AT)
    db = Database.in_state_dir(TARGET)
    outbox = Outbox(db, max_entries=5000, max_bytes=50 * 1024 * 1024, clock=clock)
    catalogue = load_catalogue()
    windows = [p for p in catalogue.policies if "windows" in {x.value for x in p.platforms}]

    def result(policy_id: str, status: Status) -> Result:
        version = next(p for p in catalogue.policies if p.id == policy_id).version
        return Result(policy_id=policy_id, policy_version=version, status=status, evidence=[{"x": "1"}])

    known = [
        result(p.id, Status.FAIL if p.id == "encryption-windows-bitlocker" else Status.PASS) for p in windows
    ] + [result(p.id, Status.NOT_APPLICABLE) for p in catalogue.policies if p not in windows]
    bitlocker = result("encryption-windows-bitlocker", Status.FAIL)
    reports = [
        Report(
            report_id=REPORT_IDS[0],
            kind=ReportKind.SNAPSHOT,
            observed_at=AT,
            agent_version="0.1.0",
            policy_versions={r.policy_id: r.policy_version for r in known},
            results=known,
        ),
        *(
            Report(
                report_id=REPORT_IDS[i],
                kind=ReportKind.TRANSITION,
                observed_at=AT + timedelta(hours=i),
                agent_version="0.1.0",
                policy_versions={"encryption-windows-bitlocker": bitlocker.policy_version},
                results=[result("encryption-windows-bitlocker", status)],
            )
            for i, status in ((1, Status.ERROR), (2, Status.FAIL))
        ),
    ]
    for report in reports:
        outbox.put(report)
    refused = Report(
        report_id=REPORT_IDS[3],
        kind=ReportKind.TRANSITION,
        observed_at=AT,
        agent_version="0.1.0",
        policy_versions={},
        results=[],
    )
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO outbox(report_id, kind, observed_at, body, size) VALUES (?, ?, ?, ?, ?)",
            (str(refused.report_id), "transition", AT.isoformat(), refused.model_dump_json(), 10),
        )
    seq = int(str(db.read("SELECT seq FROM outbox WHERE report_id = ?", (str(refused.report_id),))[0][0]))
    outbox.dead_letter(
        OutboxEntry(seq, refused, refused.model_dump_json(), 1),
        status_code=422,
        reason="observed_at is in the future",
    )
    outbox.record_event(EventKind.OSQUERY_UNAVAILABLE, "osqueryd was not running at boot")
    db.set_meta(LAST_SNAPSHOT, AT.isoformat())
    book = StatusBook(db)
    book.record_evaluation(AT + timedelta(hours=2), {"pass": 5, "fail": 1}, "windows", transitions=1)
    with db.transaction() as conn:
        conn.execute("DELETE FROM policy_state")
        conn.executemany(
            "INSERT INTO policy_state(policy_id, status, version, observed_at) VALUES (?, ?, ?, ?)",
            [(r.policy_id, r.status.value, r.policy_version, AT.isoformat()) for r in known],
        )
    db.close()
    CredentialsFile(TARGET).save(
        DeviceCredentials(
            device_id="dev-legacy",
            device_key="fwd_legacy-key-for-tests",
            collector_url="https://collector.retired.example.nhs.uk",
            enrolled_at=AT.isoformat(),
        )
    )
    print(json.dumps(sorted(p.name for p in TARGET.iterdir())))


if __name__ == "__main__":
    main()
