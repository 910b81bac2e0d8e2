"""Retention: policy resolution, purge (dry run, batches, hold, resume), export, privacy, daily job."""
import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import pytest
from click.testing import CliRunner

from conftest import SECRET, config_env, png_bytes, stored_keys
from sidecar import storage
from sidecar.attempts import recompute_score
from sidecar.cli import cli
from sidecar.db import connect, migrate, write_transaction
from sidecar.errors import BadRequest
from sidecar.retention import policy, purge, scheduler
from sidecar.retention.selection import LATEST_BEFORE, plan, read_selection

DAY = 86400
NOW = int(time.time())


def open_db(app):
    return connect(app.config["DATABASE"])


def seed(db_path, images, course_id, quiz_id, attempts, shots, first_attempt, user_base=100,
         finished_days_ago=1, settings=None, cm_id=1):
    """Synthetic attempts with tiny real PNG images, written straight into a real database and image store."""
    db = connect(db_path)
    image = png_bytes(8, 8)
    digest = hashlib.sha256(image).hexdigest()
    now = time.time()
    try:
        with write_transaction(db):
            for number in range(attempts):
                attempt_id = first_attempt + number
                user_id = user_base + number
                finished = NOW - finished_days_ago * DAY
                db.execute("INSERT INTO users (id, fullname, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                           [user_id, f"Student {user_id}", now])
                db.execute(
                    "INSERT INTO attempts (id, user_id, course_id, course_name, quiz_id, cm_id, quiz_name, started_at, "
                    "finished_at, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [attempt_id, user_id, course_id, f"Course {course_id}", quiz_id, cm_id, f"Quiz {quiz_id}",
                     finished - 3600, finished, json.dumps(settings or {}), now, now])
                for shot in range(shots):
                    camshot_id = storage.new_id()
                    relative = storage.camshot_path(course_id, quiz_id, attempt_id, camshot_id)
                    images.put(relative.as_posix(), image)
                    db.execute(
                        "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, "
                        "width, height, sha256) VALUES (?, ?, ?, 'attempt', ?, ?, ?, ?, 8, 8, ?)",
                        [camshot_id, attempt_id, f"s{shot}", (finished - 3000 + shot * 30) * 1000, now,
                         relative.as_posix(), len(image), digest])
    finally:
        db.close()
    return len(image)


def count(db, sql, params=()):
    return db.execute(sql, params).fetchone()[0]


def image_files(images, course_id=None):
    """The keys of the stored camshot images, of one course if given."""
    top = f"images/{course_id}" if course_id else "images"
    return [key for key in stored_keys(images, top) if key.endswith(".png")]


# --- policy resolution ---------------------------------------------------------------------------

@pytest.mark.engines
@pytest.mark.parametrize("course_days, quiz_days, moodle_days, hold, expected", [
    (None, None, None, False, (90, "site default")),
    (30, None, None, False, (30, "course policy")),
    (30, None, 14, False, (14, "quiz setting in Moodle")),
    (30, 7, 14, False, (7, "quiz policy")),
    (None, 7, None, False, (7, "quiz policy")),
    (30, 7, 14, True, (7, "quiz policy")),
])
def test_policy_resolution(app, course_days, quiz_days, moodle_days, hold, expected):
    db = open_db(app)
    if course_days:
        policy.set_policy(db, "course", 3, course_days)
    if quiz_days:
        policy.set_policy(db, "quiz", 11, quiz_days)
    attempt = {"course_id": 3, "quiz_id": 11, "started_at": NOW - 100, "finished_at": NOW,
               "settings": {"retention_days": moodle_days} if moodle_days else {}, "legal_hold": hold}
    rule = policy.resolve(db, attempt, 90)
    assert (rule["days"], rule["source"]) == expected
    assert rule["held"] is hold
    assert rule["expires_at"] == (None if hold else NOW + expected[0] * DAY)


@pytest.mark.engines
def test_expired_selection_follows_each_level_and_hold(app):
    """The SQL that purges agrees with the resolution the console shows, level by level."""
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 1, first_attempt=1, finished_days_ago=40)  # course policy 30: expired
    seed(db_path, images, 3, 12, 1, 1, first_attempt=2, finished_days_ago=40, settings={"retention_days": 60})
    seed(db_path, images, 3, 13, 1, 1, first_attempt=3, finished_days_ago=10)  # quiz policy 5: expired
    seed(db_path, images, 4, 14, 1, 1, first_attempt=4, finished_days_ago=80)  # site default 90: kept
    seed(db_path, images, 4, 15, 1, 1, first_attempt=5, finished_days_ago=100)  # site default: expired, held
    seed(db_path, images, 4, 16, 1, 1, first_attempt=6, finished_days_ago=100)  # site default: expired
    db = open_db(app)
    with write_transaction(db):
        policy.set_policy(db, "course", 3, 30)
        policy.set_policy(db, "quiz", 13, 5)
        policy.set_hold(db, 5, True)
    figures = plan(db, {"expired": True}, NOW, 90)
    assert figures == {"attempts": 3, "camshots": 3, "bytes": figures["bytes"], "held": 1}
    result = purge.purge(db, images, {"expired": True}, {"actor_type": "system"}, NOW, 90, 500)
    assert (result["attempts"], result["held"]) == (3, 1)
    assert sorted(r[0] for r in db.execute("SELECT id FROM attempts")) == [2, 4, 5]


# --- selections ----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, code", [
    ({}, "empty_selection"),
    ({"dry_run": False}, "empty_selection"),
    ({"expired": False}, "empty_selection"),
    ({"course_id": "", "before": None}, "empty_selection"),
    ({"course": 3}, "invalid_field"),
    ({"course_id": "3; DROP TABLE attempts"}, "invalid_field"),
    ({"course_id": -3}, "invalid_field"),
    ({"course_id": 3.5}, "invalid_field"),
    ({"course_id": True}, "invalid_field"),
    ({"before": "yesterday"}, "invalid_field"),
    ({"before": LATEST_BEFORE + 1}, "invalid_field"),
    ({"expired": "yes"}, "invalid_field"),
])
def test_bad_selections_are_refused(body, code):
    with pytest.raises(BadRequest) as refused:
        read_selection(body, allowed=("dry_run",))
    assert refused.value.code == code and refused.value.message


def test_a_selection_keeps_the_keys_given_and_nothing_else():
    assert read_selection({"course_id": "3", "quiz_id": 11, "before": 0, "expired": True, "dry_run": True},
                          allowed=("dry_run",)) == {"course_id": 3, "quiz_id": 11, "before": 0, "expired": True}


# read_selection's refusals above; through the route, one of each code, dry_run (the route's), and nothing purged.
@pytest.mark.parametrize("body, code", [
    ({}, "empty_selection"),
    ({"course_id": "3; DROP TABLE attempts"}, "invalid_field"),
    ({"course_id": 3, "dry_run": "false"}, "invalid_field"),
])
def test_purge_refuses_bad_selections(app, api, body, code):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 2, first_attempt=1)
    response = api.json("POST", "/api/v1/purge", body)
    assert response.status_code == 400
    assert response.json["error"] == code and response.json["message"]
    assert count(open_db(app), "SELECT count(*) FROM camshots") == 4


@pytest.mark.parametrize("path, body, content_type", [
    ("/api/v1/purge", b"not json", "application/json"),
    ("/api/v1/purge", b"[1, 2]", "application/json"),
    ("/api/v1/purge", b'{"course_id": 3}', "text/plain"),
    ("/api/v1/exports", b'{"course_id": 3', "application/json"),
    ("/api/v1/exports", b'{"course_id": 3, "include_reports": "yes"}', "application/json"),
    ("/api/v1/attempts/1/hold", b'{"hold": "true"}', "application/json"),
    ("/api/v1/attempts/1/hold", b'{}', "application/json"),
])
def test_malformed_bodies_get_json_errors(app, api, path, body, content_type):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1)
    response = api.open("POST", path, body, content_type)
    assert response.status_code == 400 and set(response.json) == {"error", "message"}


def test_endpoints_need_the_signature(client):
    for method, path in [("POST", "/api/v1/purge"), ("POST", "/api/v1/exports"), ("GET", "/api/v1/users/7/data"),
                         ("DELETE", "/api/v1/users/7"), ("POST", "/api/v1/attempts/1/hold")]:
        response = client.open(path, method=method, json={"course_id": 3})
        assert response.status_code == 401 and response.json["error"] == "unsigned"


def test_replayed_purge_is_refused(app, api):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1)
    from sidecar.signing import signed_headers

    body = json.dumps({"course_id": 3, "dry_run": False}).encode()
    headers = signed_headers(SECRET, "POST", "/api/v1/purge", body)
    first = api.client.post("/api/v1/purge", data=body, content_type="application/json", headers=headers)
    again = api.client.post("/api/v1/purge", data=body, content_type="application/json", headers=headers)
    assert first.status_code == 200 and again.status_code == 401 and again.json["error"] == "replayed_nonce"


# --- purge ---------------------------------------------------------------------------------------

@pytest.mark.engines
def test_dry_run_equals_real_run_and_never_reaches_another_course(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 4, 5, first_attempt=1)
    seed(db_path, images, 33, 11, 2, 5, first_attempt=30, user_base=100)  # same users, same quiz id
    seed(db_path, images, 13, 31, 2, 5, first_attempt=3000)
    db = open_db(app)
    with write_transaction(db):
        db.execute("INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (1, 'tab_hidden', 1, 'e', 1)")
        db.execute("INSERT INTO scores (attempt_id, value, computed_at) VALUES (1, 80, 1)")
        db.execute("INSERT INTO reviews (attempt_id, conclusion, reviewed_at) VALUES (2, 'accepted', 1)")
    dry = api.json("POST", "/api/v1/purge", {"course_id": 3, "actor_id": 2, "actor_name": "Ada Admin"})
    assert dry.status_code == 200
    assert dry.json == {"dry_run": True, "attempts": 4, "camshots": 20, "bytes": dry.json["bytes"], "held": 0}
    assert len(image_files(images, 3)) == 20  # a dry run deletes nothing
    real = api.json("POST", "/api/v1/purge", {"course_id": 3, "dry_run": False, "actor_id": 2, "actor_name": "Ada Admin"})
    assert real.status_code == 200
    assert real.json == {**dry.json, "dry_run": False}
    assert image_files(images, 3) == []
    assert len(image_files(images, 33)) == 10 and len(image_files(images, 13)) == 10
    assert count(db, "SELECT count(*) FROM attempts WHERE course_id = 3") == 0
    assert count(db, "SELECT count(*) FROM attempts WHERE course_id != 3") == 4
    for table in ("events", "scores", "reviews", "jobs", "purge_run_attempts"):
        assert count(db, f"SELECT count(*) FROM {table}") == 0, table
    # Users 100 and 101 still have attempts in course 33; 102 and 103 had only course 3.
    assert sorted(r[0] for r in db.execute("SELECT id FROM users")) == [100, 101]
    row = db.execute("SELECT actor_type, actor_id, actor_name, selection, count, bytes FROM audit_log "
                     "WHERE action = 'purge'").fetchone()
    assert row == ("moodle", "2", "Ada Admin", '{"course_id": 3}', 20, dry.json["bytes"])


@pytest.mark.engines
def test_selection_keys_combine_with_and(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 3, 1, first_attempt=1, finished_days_ago=10)
    seed(db_path, images, 3, 12, 3, 1, first_attempt=10, finished_days_ago=1)
    answer = api.json("POST", "/api/v1/purge", {"course_id": 3, "before": NOW - 5 * DAY}).json
    assert (answer["attempts"], answer["camshots"]) == (3, 3)
    answer = api.json("POST", "/api/v1/purge", {"quiz_id": 12, "user_id": 101}).json
    assert answer["attempts"] == 1
    answer = api.json("POST", "/api/v1/purge", {"quiz_id": 12, "attempt_id": 1}).json
    assert answer["attempts"] == 0


@pytest.mark.engines
def test_legal_hold_keeps_attempts_and_says_so(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 3, 2, first_attempt=1)
    hold = api.json("POST", "/api/v1/attempts/2/hold", {"hold": True, "actor_id": 5, "actor_name": "Lawyer"})
    assert hold.status_code == 200 and hold.json == {"attempt_id": 2, "legal_hold": True}
    assert api.json("POST", "/api/v1/attempts/99/hold", {"hold": True}).status_code == 404
    answer = api.json("POST", "/api/v1/purge", {"course_id": 3, "dry_run": False}).json
    assert (answer["attempts"], answer["camshots"], answer["held"]) == (2, 4, 1)
    db = open_db(app)
    assert [r[0] for r in db.execute("SELECT id FROM attempts")] == [2]
    assert len(image_files(images)) == 2
    assert "1 held and kept" in db.execute("SELECT detail FROM audit_log WHERE action = 'purge'").fetchone()[0]
    audit_row = db.execute("SELECT actor_id, selection, detail FROM audit_log WHERE action = 'legal_hold'").fetchone()
    assert audit_row == ("5", '{"attempt_id": 2}', "hold set")
    api.json("POST", "/api/v1/attempts/2/hold", {"hold": False})
    assert api.json("POST", "/api/v1/purge", {"course_id": 3, "dry_run": False}).json["attempts"] == 1
    assert image_files(images) == []


@pytest.mark.engines
def test_a_hold_set_during_a_run_is_respected(app):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 2, 3, first_attempt=1)
    db = open_db(app)
    holder = purge.new_holder()
    run_id = purge.start(db, {"course_id": 3}, {"actor_type": "system"}, NOW, 90, holder)
    with write_transaction(db):
        policy.set_hold(db, 2, True)
    result = purge.run(db, images, run_id, 2, holder)
    assert (result["attempts"], result["camshots"], result["held"]) == (1, 3, 1)
    assert count(db, "SELECT count(*) FROM camshots WHERE attempt_id = 2") == 3


@pytest.mark.engines
def test_purge_deletes_rows_of_tables_that_reference_attempts(app):
    """A table another part adds (with a foreign key) is cleared with its attempt."""
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 2, first_attempt=1)
    db = open_db(app)
    with write_transaction(db):
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, attempt_id INTEGER REFERENCES attempts(id), note TEXT)")
        db.execute("INSERT INTO notes (attempt_id, note) VALUES (1, 'personal')")
    purge.purge(db, images, {"attempt_id": 1}, {"actor_type": "system"}, NOW, 90, 10)
    assert count(db, "SELECT count(*) FROM notes") == 0


@pytest.mark.engines
@pytest.mark.slow
def test_large_purge_runs_in_batches_while_ingestion_continues(live_sidecar):
    """A purge of thousands of camshots never stops uploads to another course."""
    live_sidecar.stop()
    db = connect(live_sidecar.database)
    migrate(db)
    db.close()
    seed(live_sidecar.database, live_sidecar.images, 3, 11, 60, 50, first_attempt=1)
    live_sidecar.env["PROCTORPY_RETENTION_BATCH_SIZE"] = "100"
    live_sidecar.env["PROCTORPY_STORAGE_MIN_FREE_BYTES"] = "1"
    live_sidecar.start()
    client = live_sidecar.client
    client.put_attempt(9000, user_id=9, user_fullname="Grace", course_id=9, course_name="Other", quiz_id=90,
                       cm_id=1, quiz_name="Live", started_at=NOW)
    dry = client.json("POST", "/api/v1/purge", {"course_id": 3})[1]
    assert dry["camshots"] == 3000
    result = {}
    runner = threading.Thread(target=lambda: result.update(
        client.json("POST", "/api/v1/purge", {"course_id": 3, "dry_run": False})[1]))
    runner.start()
    statuses, latencies = [], []
    image = png_bytes(64, 48)
    while runner.is_alive() or not statuses:
        started = time.perf_counter()
        statuses.append(client.post_camshot(9000, 9, int(time.time() * 1000), image)[0])
        latencies.append(time.perf_counter() - started)
    runner.join()
    assert result == {**dry, "dry_run": False}
    assert set(statuses) == {201}
    assert len(statuses) >= 3, "uploads went through while the purge ran"
    db = connect(live_sidecar.database)
    assert count(db, "SELECT count(*) FROM camshots WHERE attempt_id = 9000") == len(statuses)
    assert count(db, "SELECT count(*) FROM camshots") == len(statuses)
    assert image_files(live_sidecar.images, 3) == []


@pytest.mark.engines
@pytest.mark.slow
def test_purge_killed_halfway_is_resumed_with_the_same_totals(app, tmp_path):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 40, 50, first_attempt=1)
    seed(db_path, images, 4, 12, 2, 2, first_attempt=100)
    db = open_db(app)
    dry = plan(db, {"course_id": 3}, NOW, 90)
    env = {**os.environ, "PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(app.config["DATA_DIR"]),
           **config_env(app.config["PROCTORPY"]), "PROCTORPY_RETENTION_BATCH_SIZE": "10"}
    process = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "purge", "--course-id", "3", "--yes"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        row = db.execute("SELECT camshots FROM purge_runs").fetchone()
        if row and row[0] >= 200:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done, state = db.execute("SELECT camshots, state FROM purge_runs").fetchone()
    assert state == "running" and 0 < done < dry["camshots"], "killed halfway"
    assert count(db, "SELECT count(*) FROM audit_log WHERE action = 'purge'") == 0
    # The next purge (or the scheduler's start) finishes the interrupted run: its holder is gone.
    results = purge.resume_unfinished(db, images, 500, purge.new_holder())
    assert [(r["attempts"], r["camshots"], r["bytes"], r["held"]) for r in results] == \
        [(dry["attempts"], dry["camshots"], dry["bytes"], 0)]
    assert image_files(images, 3) == [] and len(image_files(images, 4)) == 4
    assert count(db, "SELECT count(*) FROM attempts WHERE course_id = 3") == 0
    detail = db.execute("SELECT detail, count FROM audit_log WHERE action = 'purge'").fetchone()
    assert "resumed after an interruption" in detail[0] and detail[1] == dry["camshots"]


@pytest.mark.engines
def test_a_live_run_is_not_taken_over(app):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1)
    db = open_db(app)
    purge.start(db, {"course_id": 3}, {"actor_type": "system"}, NOW, 90, purge.new_holder())  # this process: alive
    assert purge.resume_unfinished(db, app.config["IMAGES"], 10, purge.new_holder()) == []
    with write_transaction(db):
        db.execute("UPDATE purge_runs SET lease_until = 0")  # the lease lapsed
    assert len(purge.resume_unfinished(db, app.config["IMAGES"], 10, purge.new_holder())) == 1


# --- export --------------------------------------------------------------------------------------

def read_zip(data):
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    return archive, manifest


@pytest.mark.engines
def test_export_zip_matches_its_manifest(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 3, 4, first_attempt=1)
    seed(db_path, images, 4, 12, 2, 4, first_attempt=50)
    api.json("POST", "/api/v1/attempts/2/hold", {"hold": True})
    response = api.json("POST", "/api/v1/exports", {"course_id": 3, "actor_id": 2, "actor_name": "Ada Admin"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive, manifest = read_zip(response.data)
    assert len(manifest) == 12 and {row["attempt"] for row in manifest} == {"1", "2", "3"}
    for row in manifest:
        info = archive.getinfo(row["file"])
        assert info.compress_type == zipfile.ZIP_STORED
        assert hashlib.sha256(archive.read(row["file"])).hexdigest() == row["sha256"]
        assert row["status"] == "pending" and row["kind"] == "attempt"
    assert "problems.csv" not in archive.namelist()
    attempts = list(csv.DictReader(io.StringIO(archive.read("attempts.csv").decode())))
    assert [a["attempt"] for a in attempts] == ["1", "2", "3"] and attempts[1]["legal_hold"] == "1"
    row = open_db(app).execute("SELECT actor_name, selection, count FROM audit_log WHERE action = 'export'").fetchone()
    assert row == ("Ada Admin", '{"course_id": 3}', 12)


@pytest.mark.engines
def test_export_lists_a_missing_file_as_a_problem(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 3, first_attempt=1)
    lost = image_files(images)[0]
    images.delete(lost)
    changed = image_files(images)[0]
    images.put(changed, b"tampered")
    archive, manifest = read_zip(api.json("POST", "/api/v1/exports", {"attempt_id": 1}).data)
    problems = archive.read("problems.csv").decode()
    assert os.path.basename(lost) in problems and "missing" in problems
    assert os.path.basename(changed) in problems and "differs" in problems


@pytest.mark.engines
def test_export_streams_with_flat_memory(app):
    """The response is a generator of small chunks, never the whole archive at once."""
    from sidecar.retention import export

    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 5, 40, first_attempt=1)
    chunks = list(export.stream_selection(db_path, images, {"course_id": 3}, time.time(), 90))
    total = sum(len(c) for c in chunks)
    assert len(chunks) > 200 and max(len(c) for c in chunks) < 70_000 < total
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert len([n for n in archive.namelist() if n.endswith(".png")]) == 200


@pytest.mark.engines
def test_export_with_reports(app, api):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 2, first_attempt=1)
    response = api.json("POST", "/api/v1/exports", {"attempt_id": 1, "include_reports": True})
    assert response.status_code == 200
    archive, _ = read_zip(response.data)
    pdf = archive.read("course-3/quiz-11/attempt-1/report.pdf")
    assert pdf.startswith(b"%PDF")


# --- privacy -------------------------------------------------------------------------------------

def add_reference_photos(app, user_id, attempt_id):
    db = open_db(app)
    images = app.config["IMAGES"]
    with write_transaction(db):
        for source, attempt in (("profile", None), ("identity", attempt_id)):
            photo_id = storage.new_id()
            relative = storage.reference_path(user_id, photo_id).as_posix()
            image = png_bytes(16, 16)
            images.put(relative, image)
            db.execute("INSERT INTO reference_photos (id, user_id, attempt_id, source, path, bytes, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", [photo_id, user_id, attempt, source, relative,
                                                        len(image), time.time() - 5])


@pytest.mark.engines
def test_user_export_holds_everything_about_the_user(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 3, first_attempt=1, user_base=7)
    seed(db_path, images, 4, 12, 1, 2, first_attempt=2, user_base=7)
    seed(db_path, images, 4, 12, 1, 2, first_attempt=3, user_base=8)
    add_reference_photos(app, 7, 1)
    response = api.get("/api/v1/users/7/data?actor_id=2&actor_name=DPO")
    assert response.status_code == 200
    archive, manifest = read_zip(response.data)
    names = archive.namelist()
    assert json.loads(archive.read("user.json"))["user"]["fullname"] == "Student 7"
    assert {row["kind"] for row in manifest} == {"attempt", "identity_photo", "profile_photo"}
    assert len(manifest) == 7 and {row["user"] for row in manifest} == {"7"}
    for row in manifest:
        assert hashlib.sha256(archive.read(row["file"])).hexdigest() == row["sha256"]
    detail = json.loads(archive.read("course-3/quiz-11/attempt-1/attempt.json"))
    assert detail["attempt"]["id"] == 1 and len(detail["shots"]) == 3
    assert not any("attempt-3" in name for name in names)
    row = open_db(app).execute("SELECT actor_id, actor_name, selection FROM audit_log WHERE action = 'user_export'").fetchone()
    assert row == ("2", "DPO", '{"user_id": 7}')
    assert api.get("/api/v1/users/999/data").status_code == 404


def seed_two_quizzes_of_user_7(app):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 3, first_attempt=1, user_base=7)
    seed(db_path, images, 4, 12, 1, 2, first_attempt=2, user_base=7)
    add_reference_photos(app, 7, 1)


@pytest.mark.engines
@pytest.mark.parametrize("query, attempts, kinds", [
    ("?quiz_ids=12", {"2"}, {"attempt"}),
    ("?quiz_ids=11", {"1"}, {"attempt", "identity_photo"}),
    ("?quiz_ids=11,12&references=1", {"1", "2"}, {"attempt", "identity_photo", "profile_photo"}),
    ("?references=1", set(), {"profile_photo"}),
    ("?quiz_ids=99", set(), set()),
])
def test_user_export_of_chosen_quizzes_or_reference_photos(app, api, query, attempts, kinds):
    seed_two_quizzes_of_user_7(app)
    response = api.get("/api/v1/users/7/data" + query)
    assert response.status_code == 200
    archive, manifest = read_zip(response.data)
    assert {row["kind"] for row in manifest} == kinds
    assert {row["attempt"] for row in manifest if row["attempt"]} == attempts
    listed = {row["attempt"] for row in csv.DictReader(io.StringIO(archive.read("attempts.csv").decode()))}
    assert listed == attempts
    assert any(name.startswith("reference/") for name in archive.namelist()) == ("profile_photo" in kinds)
    selection = json.loads(open_db(app).execute(
        "SELECT selection FROM audit_log WHERE action = 'user_export'").fetchone()[0])
    assert selection["user_id"] == 7 and "quiz_ids" in selection


@pytest.mark.parametrize("query", ["?quiz_ids=", "?quiz_ids=0", "?quiz_ids=11;12", "?references=yes"])
def test_user_export_refuses_bad_narrowing(app, api, query):
    seed_two_quizzes_of_user_7(app)
    response = api.get("/api/v1/users/7/data" + query)
    assert response.status_code == 400 and response.json["error"] == "invalid_field"


@pytest.mark.engines
def test_reference_delete_keeps_the_attempts(app, api):
    seed_two_quizzes_of_user_7(app)
    db = open_db(app)
    [(profile,)] = db.execute("SELECT path FROM reference_photos WHERE source = 'profile'").fetchall()
    response = api.open("DELETE", "/api/v1/users/7/reference?actor_id=2&actor_name=DPO")
    assert response.status_code == 200
    assert response.json == {"user_id": 7, "reference_photos": 1, "user_deleted": False}
    assert db.execute("SELECT source FROM reference_photos").fetchall() == [("identity",)]  # with its attempt
    assert count(db, "SELECT count(*) FROM attempts WHERE user_id = 7") == 2
    assert profile not in stored_keys(app.config["IMAGES"], "references")
    row = db.execute("SELECT actor_name, count FROM audit_log WHERE action = 'user_delete'").fetchone()
    assert row == ("DPO", 1)
    assert api.open("DELETE", "/api/v1/users/999/reference").json["error"] == "unknown_user"


@pytest.mark.engines
def test_user_delete_removes_everything_but_the_audit_row(app, api):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 3, first_attempt=1, user_base=7)
    seed(db_path, images, 4, 12, 1, 2, first_attempt=2, user_base=7)
    seed(db_path, images, 4, 12, 1, 2, first_attempt=3, user_base=8)
    add_reference_photos(app, 7, 1)
    db = open_db(app)
    with write_transaction(db):
        db.execute("INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (2, 'tab_hidden', 1, 'e', 1)")
    response = api.open("DELETE", "/api/v1/users/7?actor_id=2&actor_name=DPO")
    assert response.status_code == 200
    assert response.json["attempts"] == 2 and response.json["camshots"] == 5 and response.json["user_deleted"]
    for table, expected in (("users", 1), ("attempts", 1), ("camshots", 2), ("reference_photos", 0), ("events", 0)):
        assert count(db, f"SELECT count(*) FROM {table}") == expected, table
    assert stored_keys(images, "references/7") == []
    assert all("/3/" not in key or "/4/12/3/" in key for key in image_files(images))
    assert len(image_files(images)) == 2
    row = db.execute("SELECT actor_name, selection, count FROM audit_log WHERE action = 'user_delete'").fetchone()
    assert row == ("DPO", '{"user_id": 7}', 5)
    assert api.open("DELETE", "/api/v1/users/7").status_code == 404


@pytest.mark.engines
def test_user_delete_keeps_attempts_on_hold_and_says_so(app, api):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1, user_base=7)
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=2, user_base=7)
    api.json("POST", "/api/v1/attempts/2/hold", {"hold": True})
    answer = api.open("DELETE", "/api/v1/users/7").json
    assert answer["attempts"] == 1 and answer["held"] == 1 and answer["user_deleted"] is False
    assert "legal hold" in answer["message"]


def seed_involvement(app):
    """Quiz 11: students 100 and 101, reviewed by teacher 50, a camshot of 100's attempt recognising student 7.
    Quiz 12: student 7's own attempt, reviewed by 50, one of its camshots matching 7 (never a mention)."""
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 2, 2, first_attempt=1)
    seed(db_path, images, 3, 12, 1, 2, first_attempt=3, user_base=7)
    db = open_db(app)
    with write_transaction(db):
        for attempt_id in (1, 3):
            db.execute("INSERT INTO reviews (attempt_id, conclusion, comment, reviewer_id, reviewer_name, reviewed_at) "
                       "VALUES (?, 'rejected', 'Someone else sat in', 50, 'Tess Teacher', 1000)", [attempt_id])
        for attempt_id in (1, 3):
            db.execute("UPDATE camshots SET status = 'mismatch', faces = 1, matched_user_id = 7 WHERE id = "
                       "(SELECT min(id) FROM camshots WHERE attempt_id = ?)", [attempt_id])
    return db


@pytest.mark.engines
def test_involvement_lists_reviews_and_mentions_by_quiz(app, api):
    seed_involvement(app)
    answer = api.get("/api/v1/users/50/involvement?view=export&actor_id=2&actor_name=DPO").json
    assert [(r["quiz_id"], r["attempt_id"], r["comment"]) for r in answer["reviews"]] == [
        (11, 1, "Someone else sat in"), (12, 3, "Someone else sat in")]
    assert answer["mentions"] == []
    answer = api.get("/api/v1/users/7/involvement?quiz_ids=11,12").json
    assert answer["reviews"] == [] and [(m["quiz_id"], m["attempt_id"]) for m in answer["mentions"]] == [(11, 1)]
    assert api.get("/api/v1/users/7/involvement?quiz_ids=12").json["mentions"] == []
    assert api.get("/api/v1/users/999/involvement").json == {"user_id": 999, "reviews": [], "mentions": []}
    assert api.get("/api/v1/quizzes/11/involved").json == {"quiz_id": 11, "reviewer_ids": [50], "mentioned_user_ids": [7]}
    assert api.get("/api/v1/quizzes/12/involved").json == {"quiz_id": 12, "reviewer_ids": [50], "mentioned_user_ids": []}
    for query in ("quiz_ids=0", "view=report"):
        assert api.get("/api/v1/users/7/involvement?" + query).json["error"] == "invalid_field"
    rows = open_db(app).execute("SELECT actor_name, selection, count FROM audit_log WHERE action = 'user_export'").fetchall()
    assert rows == [("DPO", '{"user_id": 50}', 2)], "Only the export is audited, not finding where to look"


@pytest.mark.engines
def test_involvement_delete_forgets_the_user_in_the_quizzes_named(app, api):
    db = seed_involvement(app)
    recompute_score(db, app.config["PROCTORPY"], 1)
    before = json.loads(db.execute("SELECT metrics FROM scores WHERE attempt_id = 1").fetchone()[0])
    assert before["percent"]["substitution"] > 0
    assert api.open("DELETE", "/api/v1/users/50/involvement?quiz_ids=11").json == {
        "user_id": 50, "reviews": 1, "mentions": 0}
    assert db.execute("SELECT attempt_id, conclusion, comment, reviewer_id, reviewer_name FROM reviews "
                      "ORDER BY attempt_id").fetchall() == [
        (1, "rejected", "Someone else sat in", None, ""), (3, "rejected", "Someone else sat in", 50, "Tess Teacher")]
    assert api.open("DELETE", "/api/v1/users/7/involvement?actor_id=2&actor_name=DPO").json == {
        "user_id": 7, "reviews": 0, "mentions": 1}
    assert db.execute("SELECT attempt_id, status FROM camshots WHERE matched_user_id IS NOT NULL").fetchall() == [
        (3, "mismatch")]
    metrics = json.loads(db.execute("SELECT metrics FROM scores WHERE attempt_id = 1").fetchone()[0])
    assert metrics["percent"]["substitution"] == 0 and metrics["percent"]["mismatch"] > 0
    row = db.execute("SELECT actor_name, detail FROM audit_log WHERE action = 'user_delete' ORDER BY id DESC").fetchone()
    assert row == ("DPO", "privacy deletion: named in 0 review(s) and 1 camshot(s) of other students' attempts")


@pytest.mark.engines
def test_user_delete_forgets_the_user_in_other_students_attempts(app, api):
    db = seed_involvement(app)
    assert api.open("DELETE", "/api/v1/users/7").json["user_deleted"]
    assert count(db, "SELECT count(*) FROM camshots WHERE matched_user_id IS NOT NULL") == 0
    assert count(db, "SELECT count(*) FROM camshots WHERE attempt_id = 1") == 2


# --- daily job -----------------------------------------------------------------------------------

@pytest.mark.engines
def test_daily_job_purges_expired_prunes_audit_and_nonces(app, config):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 2, 2, first_attempt=1, finished_days_ago=200)
    seed(db_path, images, 3, 11, 2, 2, first_attempt=10, finished_days_ago=2)
    db = open_db(app)
    with write_transaction(db):
        db.execute("INSERT INTO audit_log (at, actor_type, action) VALUES (?, 'moodle', 'report_view')", [NOW - 800 * DAY])
        db.execute("INSERT INTO audit_log (at, actor_type, action) VALUES (?, 'moodle', 'report_view')", [NOW - 1 * DAY])
        db.execute("INSERT INTO nonces VALUES ('old', ?)", [NOW - 3600])
        db.execute("INSERT INTO nonces VALUES ('new', ?)", [NOW])
    result = scheduler.run_daily(config, db_path, now=NOW)
    assert result["purged"]["attempts"] == 2 and result["audit_rows_removed"] == 1 and result["nonces_removed"] == 1
    assert sorted(r[0] for r in db.execute("SELECT id FROM attempts")) == [10, 11]
    assert [r[0] for r in db.execute("SELECT nonce FROM nonces")] == ["new"]
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["report_view", "purge", "audit_purge"]
    assert scheduler.last_run_at(db) == NOW


@pytest.mark.engines
def test_daily_job_runs_once_per_lease(app, config):
    db = open_db(app)
    assert scheduler.acquire_lease(db, scheduler.JOB_LEASE, purge.new_holder(), 600, NOW)
    assert scheduler.run_daily(config, app.config["DATABASE"], now=NOW) is None  # held by a live holder
    with write_transaction(db):
        db.execute("UPDATE leases SET lease_until = ?", [NOW - 1])
    assert scheduler.run_daily(config, app.config["DATABASE"], now=NOW) is not None


@pytest.mark.engines
def test_scheduler_runs_at_the_configured_time_and_catches_up(app, config):
    config["retention.run_at"] = "04:15"
    job_scheduler = scheduler.start_scheduler(config)
    try:
        job = job_scheduler.get_job("retention")
        assert (job.next_run_time.hour, job.next_run_time.minute) == (4, 15)
        deadline = time.time() + 20
        while scheduler.last_run_at(open_db(app)) is None and time.time() < deadline:
            time.sleep(0.05)  # never run before: the catch-up run starts at once
        assert scheduler.last_run_at(open_db(app)) is not None
    finally:
        job_scheduler.shutdown()


def test_create_app_starts_no_scheduler(config):
    from sidecar import create_app

    before = {t.name for t in threading.enumerate()}
    create_app(config)
    assert {t.name for t in threading.enumerate()} == before


# --- command line --------------------------------------------------------------------------------

@pytest.mark.engines
def test_cli_purge_export_and_retention_run(app, tmp_path):
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 2, 3, first_attempt=1)
    runner = CliRunner()
    env = {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(app.config["DATA_DIR"]),
           **config_env(app.config["PROCTORPY"])}
    dry = runner.invoke(cli, ["purge", "--course-id", "3", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output) == {"dry_run": True, "attempts": 2, "camshots": 6, "bytes": json.loads(dry.output)["bytes"], "held": 0}
    empty = runner.invoke(cli, ["purge", "--dry-run"], env=env)
    assert empty.exit_code == 2 and "selection is empty" in empty.output
    target = tmp_path / "out.zip"
    exported = runner.invoke(cli, ["export", "--course-id", "3", "-o", str(target)], env=env)
    assert exported.exit_code == 0, exported.output
    archive, manifest = read_zip(target.read_bytes())
    assert len(manifest) == 6
    refused = runner.invoke(cli, ["purge", "--course-id", "3"], env=env, input="n\n")
    assert refused.exit_code == 1 and len(image_files(images)) == 6
    done = runner.invoke(cli, ["purge", "--course-id", "3", "--yes"], env=env)
    assert done.exit_code == 0 and "Purged" in done.output and image_files(images) == []
    assert open_db(app).execute("SELECT actor_type FROM audit_log WHERE action = 'purge'").fetchone()[0] == "cli"
    ran = runner.invoke(cli, ["retention", "run"], env=env)
    assert ran.exit_code == 0 and '"nonces_removed"' in ran.output


def test_cli_purge_takes_the_quiz_by_the_id_in_its_address_and_names_it(app):
    """Quiz instance ids and course module ids overlap: --cm-id 30 is the quiz at view.php?id=30, not quiz 30."""
    images, db_path = app.config["IMAGES"], app.config["DATABASE"]
    seed(db_path, images, 3, 11, 1, 2, first_attempt=1, cm_id=30)
    seed(db_path, images, 4, 30, 1, 2, first_attempt=2, cm_id=45)
    runner = CliRunner()
    env = {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(app.config["DATA_DIR"]),
           **config_env(app.config["PROCTORPY"])}
    dry = runner.invoke(cli, ["purge", "--cm-id", "30", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "Quiz 11 in Course 3 (view.php?id=30): 1 attempt(s)" in dry.output and "Quiz 30" not in dry.output
    assert "quiz module 30" in dry.output
    done = runner.invoke(cli, ["purge", "--cm-id", "30", "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert image_files(images, 3) == [] and len(image_files(images, 4)) == 2
    assert "--cm-id" in runner.invoke(cli, ["purge", "--help"]).output
