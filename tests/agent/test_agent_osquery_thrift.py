"""The real osquery-python ExtensionClient against a real Thrift ExtensionManager on a Unix socket."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from osquery.extension_client import ExtensionClient

from agent.errors import OsqueryUnavailable
from agent.osquery.runner import ThriftRunner
from fleetward.errors import QueryError
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

BITLOCKER_SQL = "SELECT protection_status, (protection_status = 1) AS compliant FROM bitlocker_info"


def runner_for(server: RecordedOsqueryd, *, timeout: float = 5.0) -> ThriftRunner:
    return ThriftRunner([str(server.socket_path)], query_timeout=timeout, connect_timeout=1.0)


def test_raw_extension_client_gets_rows_of_strings(osqueryd: RecordedOsqueryd) -> None:
    client = ExtensionClient(str(osqueryd.socket_path))
    assert client.open(timeout=1)
    try:
        response = client.extension_manager_client().query("SELECT major, build FROM os_version")
    finally:
        client.close()
    assert response.status.code == 0
    assert response.response == [{"major": "10", "build": "26100"}]


def test_runner_answers_from_the_recorded_device(osqueryd: RecordedOsqueryd) -> None:
    runner = runner_for(osqueryd)
    try:
        assert runner.query(BITLOCKER_SQL) == [{"protection_status": "1", "compliant": "1"}]
        assert runner.query("SELECT hostname FROM system_info") == [{"hostname": "GP-LAPTOP-017"}]
    finally:
        runner.close()


def test_sql_error_is_a_query_error_with_osquerys_message(osqueryd: RecordedOsqueryd) -> None:
    runner = runner_for(osqueryd)
    with pytest.raises(QueryError, match="no such table: disk_encryption"):
        runner.query("SELECT * FROM disk_encryption")
    # The connection is still good for the next query.
    assert runner.query("SELECT major FROM os_version") == [{"major": "10"}]
    runner.close()


def test_server_reporting_failure_is_a_query_error(osqueryd: RecordedOsqueryd) -> None:
    osqueryd.fail_queries("WMI query failed", matching="bitlocker")
    runner = runner_for(osqueryd)
    with pytest.raises(QueryError, match="WMI query failed"):
        runner.query(BITLOCKER_SQL)
    assert runner.query("SELECT major FROM os_version") == [{"major": "10"}]
    runner.close()


def test_hung_query_times_out_and_the_next_query_works(osqueryd: RecordedOsqueryd) -> None:
    osqueryd.hang_queries(matching="bitlocker")
    runner = runner_for(osqueryd, timeout=0.3)
    with pytest.raises(QueryError, match=r"did not answer within 0.3s"):
        runner.query(BITLOCKER_SQL)
    # The late answer must not be read as the reply to this query: a fresh connection is used.
    assert runner.query("SELECT build FROM os_version") == [{"build": "26100"}]
    osqueryd.release()
    runner.close()


def test_restart_between_queries_reconnects_transparently(osqueryd: RecordedOsqueryd) -> None:
    runner = runner_for(osqueryd)
    assert runner.query("SELECT major FROM os_version") == [{"major": "10"}]
    osqueryd.restart()
    assert runner.query("SELECT major FROM os_version") == [{"major": "10"}]
    assert runner.reconnects == 1
    runner.close()


def test_crash_mid_query_with_respawn_delay_is_retried_once(osqueryd: RecordedOsqueryd) -> None:
    runner = runner_for(osqueryd)
    osqueryd.crash_after(1, down_for=0.3)
    assert runner.query("SELECT major FROM os_version") == [{"major": "10"}]
    # This query's connection drops mid-request; osqueryd is back 0.3 s later and answers the retry.
    assert runner.query(BITLOCKER_SQL) == [{"protection_status": "1", "compliant": "1"}]
    assert osqueryd.restarts == 1
    assert runner.reconnects == 1
    runner.close()


def test_server_that_never_comes_back_is_an_error_naming_the_socket(osqueryd: RecordedOsqueryd) -> None:
    runner = ThriftRunner(
        [str(osqueryd.socket_path)], query_timeout=2, connect_timeout=0.2, reconnect_timeout=0.3
    )
    assert runner.query("SELECT major FROM os_version")
    osqueryd.stop()
    with pytest.raises(QueryError, match=str(osqueryd.socket_path)):
        runner.query("SELECT major FROM os_version")


def test_missing_osquery_names_every_path_tried_and_how_to_install(tmp_path: Path) -> None:
    paths = [str(tmp_path / "osquery.em"), str(tmp_path / "orbit-osquery.em")]
    runner = ThriftRunner(paths, query_timeout=1, connect_timeout=0.1)
    with pytest.raises(OsqueryUnavailable) as caught:
        runner.open()
    message = str(caught.value)
    assert all(p in message for p in paths)
    assert "osquery.io/downloads" in message
    assert caught.value.tried == paths


def test_second_candidate_socket_is_used_when_the_first_is_absent(osqueryd: RecordedOsqueryd) -> None:
    runner = ThriftRunner(["/nonexistent/osquery.em", str(osqueryd.socket_path)], query_timeout=2)
    assert runner.open() == str(osqueryd.socket_path)
    runner.close()


def test_concurrent_clients_are_each_answered(osqueryd: RecordedOsqueryd) -> None:
    answers: list[list[dict[str, str]]] = []

    def ask() -> None:
        runner = runner_for(osqueryd)
        answers.append(runner.query("SELECT build FROM os_version"))
        runner.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == [[{"build": "26100"}]] * 4


def test_stopped_server_removes_its_socket() -> None:
    from tests.agent.conftest import windows_laptop

    path = short_socket_path()
    with RecordedOsqueryd(windows_laptop(), path):
        assert path.exists()
    assert not path.exists()
