from tests.collector.support import Fleet, result


def test_enroll_and_report(fleet: Fleet) -> None:
    device = fleet.enroll()
    response = fleet.report(device, [result("encryption-windows-bitlocker", "pass")])
    assert response.status_code == 200, response.text
    assert response.json()["transitions"] == 1
    state = fleet.state(fleet.clock.now())
    assert state["totals"]["by_status"]["pass"] == 1
