"""The live view of a quiz: its attempts in progress, problems first, from one query."""
import time
from urllib.parse import parse_qsl

import pytest

from conftest import face_bytes
from sidecar import live
from sidecar.attempts import recompute_score
from sidecar.client import SidecarError
from sidecar.db import connect
from sidecar.errors import BadRequest

# attempt id: (user id, student, verdicts of its camshots every 30 s, oldest first)
ATTEMPTS = {
    1: (7, "Ada Lovelace", ["ok"] * 9),
    2: (8, "Charles Babbage", ["no_face"] * 9),
    3: (9, "Grace Hopper", ["ok"] * 8 + ["substitution"]),
    4: (10, "Alan Turing", ["ok"] * 8 + ["multiple_faces"]),
    5: (11, "Edsger Dijkstra", ["ok"] * 8 + ["mismatch"]),
    6: (12, "Barbara Liskov", ["ok"] * 5),  # the camera went quiet after two and a half minutes
    7: (13, "Donald Knuth", ["ok"] * 8 + ["pending"]),
    8: (14, "Frances Allen", ["ok"] * 9),  # left the page a minute ago
    11: (17, "John Backus", []),  # no camshot yet
}


def db_of(app):
    return connect(app.config["DATABASE"])


def live_answer(api, query=""):
    response = api.get("/api/v1/quizzes/11/live" + query)
    assert response.status_code == 200, response.json
    return response.json


def seed(app, api, config):
    """The attempts above at quiz 11, in progress, started five minutes ago; one finished and one at another
    quiz besides. Returns when it started: the times of its camshots and events follow from it."""
    start = int(time.time()) - 300
    photo = face_bytes("obama/obama.jpg", width=80)
    for attempt_id, (user_id, name, verdicts) in ATTEMPTS.items():
        assert api.put_attempt(attempt_id, user_id=user_id, user_fullname=name, started_at=start,
                               interval_min=20, interval_max=40).status_code == 201
        for index, verdict in enumerate(verdicts):
            response = api.post_camshot(photo, attempt_id=attempt_id,
                                        user_id=user_id, taken_at=(start + 5 + 30 * index) * 1000,
                                        client_shot_id=f"s{index}")
            assert response.status_code == 201, response.json
            db = db_of(app)
            db.execute("UPDATE camshots SET status = ?, matched_user_id = ?, received_at = ? WHERE id = ?",
                       ["mismatch" if verdict == "substitution" else verdict, 7 if verdict == "substitution" else None,
                        start + 6 + 30 * index, response.json["id"]])
            db.close()
    # Frances left the page a minute ago, and ten minutes ago: outside the window of five minutes.
    for kind, seconds_before_now in (("tab_hidden", 60), ("tab_visible", 50), ("focus_lost", 600), ("focus_back", 590)):
        assert api.json("POST", "/api/v1/events", {
            "attempt_id": 8, "user_id": 14, "type": kind, "at": (start + 300 - seconds_before_now) * 1000,
            "client_event_id": kind}).status_code == 201
    # On a busy machine the uploads take a while: the attempts move forward to have started five minutes ago now.
    shift = int(time.time()) - 300 - start
    start += shift
    db = db_of(app)
    db.execute("UPDATE attempts SET started_at = started_at + ?", [shift])
    db.execute("UPDATE camshots SET taken_at = taken_at + ?, received_at = received_at + ?", [1000 * shift, shift])
    db.execute("UPDATE events SET at = at + ?, received_at = (at + ?) / 1000.0", [1000 * shift, 1000 * shift])
    for attempt_id in ATTEMPTS:
        recompute_score(db, config, attempt_id)
    db.close()
    api.put_attempt(9, user_id=15, user_fullname="Finished Student", started_at=start)
    api.json("POST", "/api/v1/attempts/9/finish", {"finished_at": start + 300})
    api.put_attempt(10, user_id=16, user_fullname="Other Quiz", quiz_id=12, started_at=start)
    return start


@pytest.mark.engines
def test_attempts_in_progress_problems_first(app, api, config):
    start = seed(app, api, config)
    answer = live_answer(api)
    now = answer["now"]
    assert answer["quiz_id"] == 11 and answer["minutes"] == live.WINDOW_MINUTES and answer["count"] == 9
    tiles = {t["attempt_id"]: t for t in answer["attempts"]}
    # The most serious problem first: another student, mismatch, several faces, no face, a quiet camera,
    # then a student who left the page, then those with none, by name.
    assert [t["attempt_id"] for t in answer["attempts"]] == [3, 5, 4, 2, 6, 11, 8, 1, 7]
    assert [tiles[i]["problems"][0] for i in (3, 5, 4, 2, 6, 11, 8)] == [
        "substitution", "mismatch", "multiple_faces", "no_face", "camera_quiet", "camera_quiet", "left_page"]
    assert tiles[1]["problems"] == [] and tiles[7]["problems"] == []

    assert tiles[3]["student"] == "Grace Hopper" and tiles[3]["user_id"] == 9
    assert tiles[3]["last_shot"]["verdict"] == "substitution"
    assert tiles[3]["last_shot"]["matched_user_id"] == 7 and tiles[3]["last_shot"]["matched_student"] == "Ada Lovelace"
    assert tiles[3]["last_shot"]["taken_at"] == (start + 5 + 30 * 8) * 1000
    assert {tiles[i]["last_shot"]["verdict"] for i in (1, 7)} == {"ok", "pending"}
    assert tiles[5]["last_shot"]["verdict"] == "mismatch" and tiles[5]["last_shot"]["matched_user_id"] is None

    # The camera of attempt 6 last delivered 150 s ago, more than the interval of 40 s and its grace of 30 s.
    assert tiles[6]["camera_quiet"] and tiles[6]["due_seconds"] == 70
    assert tiles[6]["seconds_since_shot"] == pytest.approx(now - (start + 6 + 30 * 4), abs=0.1)
    assert tiles[11]["last_shot"] is None and tiles[11]["camera_quiet"]
    assert tiles[11]["seconds_since_shot"] == pytest.approx(now - start, abs=0.1)
    assert not tiles[1]["camera_quiet"] and tiles[1]["seconds_since_shot"] < 70

    assert tiles[8]["left_page"] == 1  # the tab hidden a minute ago; not the focus lost ten minutes ago
    assert tiles[8]["last_page_event"]["type"] == "tab_visible"
    assert tiles[8]["last_page_event"]["seconds_ago"] == pytest.approx(now - (start + 250), abs=0.1)
    assert tiles[1]["left_page"] == 0 and tiles[1]["last_page_event"] is None
    wider = {t["attempt_id"]: t for t in live_answer(api, "?minutes=15")["attempts"]}
    assert wider[8]["left_page"] == 2


@pytest.mark.engines
def test_the_score_is_the_overviews(app, api, config):
    """The live view reads the stored score and flag the overview shows: the domain's one formula."""
    seed(app, api, config)
    overview = {r["attempt_id"]: r for r in api.get("/api/v1/quizzes/11/attempts").json["attempts"]}
    tiles = live_answer(api)["attempts"]
    for tile in tiles:
        assert tile["score"] == overview[tile["attempt_id"]]["score"]
        assert tile["below_threshold"] == overview[tile["attempt_id"]]["flagged"]
        assert tile["threshold"] == 70
        assert ("below_threshold" in tile["problems"]) == tile["below_threshold"]
    by_id = {t["attempt_id"]: t for t in tiles}
    assert by_id[1]["score"] == 100 and not by_id[1]["below_threshold"]
    assert by_id[2]["score"] < 70 and by_id[2]["below_threshold"]
    assert by_id[2]["problems"] == ["no_face", "below_threshold"]
    assert by_id[11]["score"] is None and not by_id[11]["below_threshold"]


@pytest.mark.parametrize("query, expected", [
    ("?user_ids=7,8", [2, 1]),
    ("?user_ids=17", [11]),
    ("?user_ids=15,16", []),  # a finished attempt, an attempt at another quiz
    ("?user_ids=999", []),
])
def test_only_the_students_named(app, api, config, query, expected):
    seed(app, api, config)
    assert [t["attempt_id"] for t in live_answer(api, query)["attempts"]] == expected


@pytest.mark.engines
def test_an_unknown_quiz_has_no_attempts_in_progress(app, api):
    response = api.get("/api/v1/quizzes/999/live")
    assert response.status_code == 200 and response.json["attempts"] == [] and response.json["count"] == 0


@pytest.mark.parametrize("query, name", [
    ("?user_ids=", "user_ids"), ("?user_ids=7,,9", "user_ids"), ("?user_ids=7;9", "user_ids"),
    ("?user_ids=-7", "user_ids"), ("?user_ids=" + ",".join(["7"] * 901), "user_ids"),
    ("?minutes=0", "minutes"), ("?minutes=61", "minutes"), ("?minutes=five", "minutes"),
])
def test_live_params_refuse_bad_values(query, name):
    with pytest.raises(BadRequest) as refused:
        live.live_params(dict(parse_qsl(query[1:], keep_blank_values=True)))
    assert refused.value.code == "invalid_field" and name in refused.value.message


def test_live_params_default_to_everyone_in_the_last_minutes():
    assert live.live_params({}) == {"user_ids": None, "minutes": live.WINDOW_MINUTES}
    assert live.live_params({"user_ids": "7,9", "minutes": "15"}) == {"user_ids": {7, 9}, "minutes": 15}


# The route's own checks (the quiz id, view), and one refusal of each kind live_params makes (above).
@pytest.mark.parametrize("path, name", [
    ("/api/v1/quizzes/x/live", "quiz_id"), ("/api/v1/quizzes/0/live", "quiz_id"),
    ("/api/v1/quizzes/11/live?user_ids=7;9", "user_ids"), ("/api/v1/quizzes/11/live?minutes=61", "minutes"),
    ("/api/v1/quizzes/11/live?view=closed", "view"),
])
def test_malformed_parameters_are_refused(app, api, path, name):
    response = api.get(path)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_field" and name in response.json["message"]


@pytest.mark.engines
def test_opening_the_live_view_is_audited_and_its_refreshes_are_not(app, api, config):
    seed(app, api, config)
    assert api.get("/api/v1/quizzes/11/live?view=opened&actor_id=5&actor_name=Grace+Hopper").status_code == 200
    for _ in range(3):
        assert api.get("/api/v1/quizzes/11/live").status_code == 200
    db = db_of(app)
    try:
        rows = db.execute("SELECT action, actor_id, actor_name, selection, count FROM audit_log "
                          "WHERE action = 'live_view'").fetchall()
    finally:
        db.close()
    assert rows == [("live_view", "5", "Grace Hopper", '{"quiz_id": 11}', 9)]


def test_unsigned_is_refused(client):
    response = client.get("/api/v1/quizzes/11/live")
    assert response.status_code == 401 and response.json["error"] == "unsigned"


# Counts statements with SQLite's trace callback (embedded backend); the query is the same on PostgreSQL.
def test_one_query_whatever_the_number_of_attempts(app, api, config):
    """Polled by every teacher watching: one statement, for nine attempts as for a hundred."""
    start = seed(app, api, config)
    db = db_of(app)
    for attempt_id in range(100, 200):
        api.put_attempt(attempt_id, user_id=attempt_id, user_fullname=f"Student {attempt_id}", started_at=start)
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        for user_ids in (None, frozenset({7, 8, 150})):
            statements.clear()
            tiles = live.live_attempts(db, config, 11, {"user_ids": user_ids, "minutes": 5}, time.time())
            assert len(tiles) == (109 if user_ids is None else 3)
            assert len(statements) == 1, statements
    finally:
        db.close()


@pytest.mark.engines
def test_through_gunicorn(live_sidecar):
    sidecar = live_sidecar.client
    now = int(time.time())
    sidecar.put_attempt(1, user_id=7, user_fullname="Ada Lovelace", course_id=3, quiz_id=11, cm_id=42,
                        quiz_name="Midterm", started_at=now - 300, interval_max=40)
    shot = sidecar.post_camshot(1, 7, now * 1000, face_bytes("obama/obama.jpg", width=160))[1]
    sidecar.post_event(1, 7, "focus_lost", now * 1000)
    status, data = sidecar.request("GET", "/api/v1/quizzes/11/live?user_ids=7")
    assert status == 200
    [tile] = data["attempts"]
    assert tile["last_shot"]["id"] == shot["id"] and tile["last_shot"]["verdict"] == "pending"
    # No camshot for the first five minutes: camera off most of the attempt, so far below the threshold.
    assert tile["left_page"] == 1 and tile["problems"] == ["below_threshold", "left_page"]
    with pytest.raises(SidecarError) as refused:
        sidecar.request("GET", "/api/v1/quizzes/11/live?user_ids=x")
    assert refused.value.status == 400
