"""The agent as a separate process for the kill -9 trials: the same composition as `fleetward-agent
run` (build_agent), but the clock jumps six hours per cycle so that every cycle writes a report
(a heartbeat snapshot) and the outbox fills fast. Prints each report id once its transaction has
committed. `drain` mode only delivers what is waiting, then exits.

    python -m tests.agent.kill_driver STATE_DIR SOCKET COLLECTOR_URL SECRET START_ISO write|drain
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from agent.compose import build_agent
from agent.settings import AgentSettings
from fleetward.clock import ManualClock


def main() -> None:
    state, socket, url, secret, start, mode = sys.argv[1:7]
    settings = AgentSettings(
        state_dir=Path(state),
        osquery_sockets=[socket],
        collector_url=url,
        enroll_secret=secret,
        heartbeat_minutes=360,
        http_timeout_seconds=5,
    )
    clock = ManualClock(datetime.fromisoformat(start))
    agent = build_agent(settings, clock=clock)
    if mode == "drain":
        for _ in range(50):
            agent.service.flush_step(force=True)
            if agent.outbox.depth() == 0:
                break
        agent.close()
        return
    while True:
        outcome = agent.service.evaluate_step()
        if outcome.report is not None:
            print(outcome.report.report_id, flush=True)
        agent.service.flush_step(force=True)
        clock.advance(timedelta(hours=6))


if __name__ == "__main__":
    main()
