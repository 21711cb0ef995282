"""Dashboard sessions live on the server: sign-out ends them, a database copy forges none, and no
answer reflects the request's Host."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store.models import UiSession
from fleetward.clock import ManualClock
from tests.collector.support import Fleet

SECRET = "s" * 40


def _signed_in(client: TestClient, token: str) -> str:
    csrf = client.get("/ui/sign-in").cookies["fleetward_ui_csrf"]
    response = client.post("/ui/sign-in", data={"token": token, "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.cookies["fleetward_ui"])


def test_sign_out_ends_the_session_on_the_server(fleet: Fleet) -> None:
    client = fleet.client
    cookie = _signed_in(client, fleet.admin)
    assert client.get("/ui/", follow_redirects=False).status_code == 200
    csrf = client.cookies["fleetward_ui_csrf"]
    client.post("/ui/sign-out", data={"csrf": csrf}, follow_redirects=False)
    client.cookies.set("fleetward_ui", cookie, path="/ui")  # the copied cookie, replayed
    assert client.get("/ui/", follow_redirects=False).status_code == 303
    with fleet.db.read() as session:
        rows = session.scalars(select(UiSession)).all()
        assert len(rows) == 1
        assert rows[0].ended_at is not None
        assert cookie.split(".")[0] not in rows[0].id_digest  # only a hash of the id is stored


def test_a_database_copy_cannot_forge_a_session(database_url: str, clock: ManualClock, fleet: Fleet) -> None:
    settings = CollectorSettings(database_url=database_url, ui_session_secret=SECRET)  # type: ignore[arg-type]
    with TestClient(create_app(settings, clock=clock)) as client:
        cookie = _signed_in(client, fleet.admin)
        session_id = cookie.split(".")[0]
        forged = f"{session_id}.{'0' * 64}"
        client.cookies.set("fleetward_ui", forged, path="/ui")
        assert client.get("/ui/", follow_redirects=False).status_code == 303
        client.cookies.set("fleetward_ui", cookie, path="/ui")
        assert client.get("/ui/", follow_redirects=False).status_code == 200
    # Another process with the same secret accepts it; one with another secret does not.
    with TestClient(create_app(settings, clock=clock)) as again:
        again.cookies.set("fleetward_ui", cookie, path="/ui")
        assert again.get("/ui/", follow_redirects=False).status_code == 200
    other = CollectorSettings(database_url=database_url, ui_session_secret="t" * 40)  # type: ignore[arg-type]
    with TestClient(create_app(other, clock=clock)) as stranger:
        stranger.cookies.set("fleetward_ui", cookie, path="/ui")
        assert stranger.get("/ui/", follow_redirects=False).status_code == 303


def test_no_redirect_reflects_the_host_header(fleet: Fleet) -> None:
    for path in ("/ui", "/ui/", "/ui/policies/x", "/v1/devices/"):
        response = fleet.client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert "evil.example" not in response.headers.get("location", ""), path
        assert response.status_code < 500


def test_configured_host_names_are_enforced(database_url: str, clock: ManualClock) -> None:
    settings = CollectorSettings(database_url=database_url, allowed_hosts="collector.example.nhs.uk")  # type: ignore[arg-type]
    with TestClient(create_app(settings, clock=clock), base_url="https://collector.example.nhs.uk") as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
