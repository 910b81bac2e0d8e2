"""Camshot and event times come from the student's browser: each is checked against the attempt's start
and the sidecar's clock on every route that takes one, and no stored time can break or stretch what
teachers and admins read (the report, its PDF, the console, the exports, the live view)."""
import io
import json
import time
import zipfile

import pytest

from conftest import SECRET, png_bytes, post_identity
from sidecar.attempts import EARLIEST_BEFORE_START, LATEST_AHEAD
from sidecar.client import multipart
from sidecar.db import connect, migrate, write_transaction
from sidecar.signing import make_token
from test_console import sign_in

FORGED = 300_000_000_000_000  # unix ms in the year 11476: the forged time of the review's probe


def ms(seconds):
    return int(seconds * 1000)


@pytest.fixture
def attempt(api):
    """Attempt 1 of user 7, started ten minutes ago; its start in unix seconds."""
    started = int(time.time()) - 600
    assert api.put_attempt(1, started_at=started, identity_check="face").status_code == 201
    return started


def rows(app, sql):
    db = connect(app.config["DATABASE"])
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def direct_headers():
    token = make_token(SECRET, {"a": 1, "u": 7, "exp": int(time.time()) + 3600})
    return {"Authorization": "Bearer " + token}


def camshot_form(taken_at, client_shot_id):
    return multipart({"attempt_id": 1, "user_id": 7, "taken_at": taken_at, "client_shot_id": client_shot_id,
                      "kind": "attempt"}, {"image": ("shot.png", png_bytes(), "image/png")})


def event_json(at, client_event_id):
    return json.dumps({"attempt_id": 1, "user_id": 7, "type": "tab_hidden", "at": at,
                       "client_event_id": client_event_id}).encode()


def send_camshot(api, route, taken_at, client_shot_id):
    body, ctype = camshot_form(taken_at, client_shot_id)
    if route == "signed":
        return api.open("POST", "/api/v1/camshots", body, ctype)
    return api.client.post("/api/v1/direct/camshots", data=body, content_type=ctype, headers=direct_headers())


def send_event(api, route, at, client_event_id):
    body = event_json(at, client_event_id)
    if route == "signed":
        return api.open("POST", "/api/v1/events", body, "application/json")
    return api.client.post("/api/v1/direct/events", data=body, content_type="application/json",
                           headers=direct_headers())


def send_identity(api, taken_at, client_shot_id):
    return post_identity(api, "obama/obama1.jpg", client_shot_id=client_shot_id, taken_at=taken_at)


def out_of_range(started):
    """Times each route must refuse: the probe's, just past the sidecar's clock, just before the start."""
    return [FORGED, ms(time.time() + LATEST_AHEAD + 60), ms(started - EARLIEST_BEFORE_START - 60), 1]


def assert_refused(response, field):
    assert response.status_code == 400, response.data
    body = response.get_json()
    assert body["error"] == "time_out_of_range", body
    assert body["message"].startswith(field + " must lie between"), body


@pytest.mark.parametrize("route", ["signed", "direct"])
def test_camshot_times_outside_the_attempt_are_refused_and_nothing_is_stored(app, api, attempt, route):
    for n, taken_at in enumerate(out_of_range(attempt)):
        assert_refused(send_camshot(api, route, taken_at, f"forged-{n}"), "taken_at")
    assert rows(app, "SELECT count(*) FROM camshots") == [(0,)]
    assert rows(app, "SELECT count(*) FROM jobs") == [(0,)]
    # A browser whose clock is a little off is no forger: the edges are accepted.
    inside = [ms(attempt - EARLIEST_BEFORE_START + 5), ms(time.time() + LATEST_AHEAD - 30)]
    for n, taken_at in enumerate(inside):
        assert send_camshot(api, route, taken_at, f"inside-{n}").status_code == 201
    assert sorted(r[0] for r in rows(app, "SELECT taken_at FROM camshots")) == inside


@pytest.mark.parametrize("route", ["signed", "direct"])
def test_event_times_outside_the_attempt_are_refused(app, api, attempt, route):
    for n, at in enumerate(out_of_range(attempt)):
        assert_refused(send_event(api, route, at, f"forged-{n}"), "at")
    assert rows(app, "SELECT count(*) FROM events") == [(0,)]
    assert send_event(api, route, ms(time.time()), "honest").status_code == 201
    assert rows(app, "SELECT count(*) FROM scores WHERE attempt_id = 1") == [(1,)]


def test_identity_photo_times_outside_the_attempt_are_refused(app, api, attempt):
    for n, taken_at in enumerate(out_of_range(attempt)):
        assert_refused(send_identity(api, taken_at, f"forged-{n}"), "taken_at")
    assert rows(app, "SELECT count(*) FROM camshots") == [(0,)]
    answer = send_identity(api, ms(time.time()), "honest")
    assert answer.status_code == 200 and answer.get_json()["passed"], answer.data


def store_forged_rows(app, started):
    """What a sidecar stored before times were checked: one camshot and one event of the probe's year."""
    now = time.time()
    db = connect(app.config["DATABASE"])
    try:
        with write_transaction(db):
            db.execute("INSERT INTO events (attempt_id, type, at, client_event_id, received_at) "
                       "VALUES (1, 'tab_hidden', ?, 'forged', ?)", [FORGED, now])
            db.execute("UPDATE camshots SET taken_at = ? WHERE attempt_id = 1", [FORGED])
    finally:
        db.close()


def test_every_renderer_is_bounded_by_the_attempt_whatever_a_row_holds(app, api, client, attempt):
    assert send_camshot(api, "signed", ms(time.time() - 60), "shot").status_code == 201
    store_forged_rows(app, attempt)
    # While the attempt runs, the report covers it up to the sidecar's clock, not to the year 11476.
    began = time.monotonic()
    report = api.get("/api/v1/attempts/1/report")
    assert report.status_code == 200, report.data
    html = report.get_data(as_text=True)
    assert html.count("<rect") < 30, "the timeline has one slot per minute of the real span"
    assert "invalid time" in html
    assert time.monotonic() - began < 10

    assert api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": int(time.time())}).status_code == 200
    assert api.get("/api/v1/attempts/1").status_code == 200
    pdf = api.get("/api/v1/attempts/1/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert api.get("/api/v1/quizzes/11/attempts?format=csv").status_code == 200
    live = api.get("/api/v1/quizzes/11/live")
    assert live.status_code == 200

    exported = api.get("/api/v1/users/7/data")
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.data)) as archive:
        assert archive.testzip() is None
        assert "attempts.csv" in archive.namelist()
    export = api.json("POST", "/api/v1/exports", {"attempt_id": 1})
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.data)) as archive:
        assert archive.testzip() is None

    sign_in(client)
    page = client.get("/console/attempts/1")
    assert page.status_code == 200 and "invalid time" in page.get_data(as_text=True)


def test_a_migration_repairs_times_stored_before_they_were_checked(app, api, attempt):
    assert send_camshot(api, "signed", ms(time.time() - 60), "shot").status_code == 201
    assert send_event(api, "signed", ms(time.time() - 30), "honest").status_code == 201
    store_forged_rows(app, attempt)
    db = connect(app.config["DATABASE"])
    try:
        with write_transaction(db):
            db.execute("INSERT INTO events (attempt_id, type, at, client_event_id, received_at) "
                       "VALUES (1, 'tab_visible', 1, 'too-early', ?)", [time.time()])
            db.execute("DELETE FROM migrations WHERE name = 'repair_capture_times'")
        honest = db.execute("SELECT at FROM events WHERE client_event_id = 'honest'").fetchone()[0]
        assert "repair_capture_times" in migrate(db)
        arrived = dict(db.execute(
            f"SELECT client_event_id, {db.integer_part('received_at * 1000')} FROM events").fetchall())
        times = dict(db.execute("SELECT client_event_id, at FROM events").fetchall())
        shot = db.execute(f"SELECT taken_at, {db.integer_part('received_at * 1000')} FROM camshots").fetchone()
    finally:
        db.close()
    assert times == {"honest": honest, "forged": arrived["forged"], "too-early": arrived["too-early"]}
    assert shot[0] == shot[1]
