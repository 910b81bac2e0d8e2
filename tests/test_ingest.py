"""Ingest, the one sequence every upload route runs once it has authorised the caller: a retry answers
what is stored, then a new upload is admitted, spends the attempt's allowance, and is stored."""
import time
from pathlib import Path

import pytest

from conftest import png_bytes
from sidecar import allowances, attempts, ingest
from sidecar.attempts import load_attempt
from sidecar.db import connect
from sidecar.errors import Conflict, NotFound, TooManyRequests
from sidecar.retention.purge import delete_dependants


@pytest.fixture
def db(app, api, config):
    """A connection to the app's database, attempt 1 registered and an allowance of two camshots and events."""
    config["capture.max_shots_per_minute"] = 2
    config["capture.max_events_per_minute"] = 2
    api.put_attempt(1)
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


def shot(client_shot_id):
    return {"attempt_id": 1, "user_id": 7, "taken_at": int(time.time() * 1000), "client_shot_id": client_shot_id,
            "kind": "attempt"}


def refuse(db, attempt):
    raise Conflict("Not now.", code="not_now")


def test_a_retry_is_answered_before_admission_and_allowance(app, db, config):
    images, attempt = app.config["IMAGES"], load_attempt(db, 1)
    stored, new = ingest.camshot(db, config, images, attempt, shot("s1"), png_bytes())
    assert new and stored["attempt_id"] == 1
    # The same client_shot_id is answered from what is stored, though admission would refuse it now.
    assert ingest.camshot(db, config, images, attempt, shot("s1"), png_bytes(), admit=refuse) == (
        {"id": stored["id"], "attempt_id": 1, "bytes": stored["bytes"]}, False)
    assert db.execute("SELECT count(*) FROM camshots").fetchone()[0] == 1


def test_a_refused_upload_spends_none_of_the_allowance(app, db, config):
    images, attempt = app.config["IMAGES"], load_attempt(db, 1)
    ingest.camshot(db, config, images, attempt, shot("s1"), png_bytes())
    with pytest.raises(Conflict):
        ingest.camshot(db, config, images, attempt, shot("s2"), png_bytes(), admit=refuse)
    # The allowance of two still holds the second camshot; a third is over it.
    assert ingest.camshot(db, config, images, attempt, shot("s3"), png_bytes())[1]
    with pytest.raises(TooManyRequests):
        ingest.camshot(db, config, images, attempt, shot("s4"), png_bytes())
    assert [row[0] for row in db.execute("SELECT client_shot_id FROM camshots ORDER BY client_shot_id")] == [
        "s1", "s3"]


def test_a_camshot_over_the_allowance_leaves_no_row_original_or_job(app, db, config):
    """The spend is the last write of the camshot's transaction: refused, it takes the camshot's rows with it."""
    images, attempt = app.config["IMAGES"], load_attempt(db, 1)
    for client_shot_id in ("s1", "s2"):
        assert ingest.camshot(db, config, images, attempt, shot(client_shot_id), png_bytes())[1]
    with pytest.raises(TooManyRequests):
        ingest.camshot(db, config, images, attempt, shot("s3"), png_bytes())
    assert [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("camshots", "camshot_originals", "jobs")] == [2, 2, 2]
    assert db.execute("SELECT allowance < 1 FROM upload_allowances WHERE what = 'camshots'").fetchone()[0]


def test_a_camshot_past_the_allowance_is_refused_before_it_is_decoded(app, db, config):
    """A client past its allowance costs a read, not a decode: its upload, however malformed, gets the 429."""
    images, attempt = app.config["IMAGES"], load_attempt(db, 1)
    for client_shot_id in ("s1", "s2"):
        assert ingest.camshot(db, config, images, attempt, shot(client_shot_id), png_bytes())[1]
    with pytest.raises(TooManyRequests):
        ingest.camshot(db, config, images, attempt, shot("s3"), b"not an image at all")


def test_an_event_retry_spends_nothing(db, config):
    event = {"attempt_id": 1, "user_id": 7, "event_type": "tab_hidden", "at": int(time.time() * 1000),
             "client_event_id": "e1"}
    first, new = ingest.event(db, config, load_attempt(db, 1), event)
    assert new and first["type"] == "tab_hidden"
    assert ingest.event(db, config, load_attempt(db, 1), event) == (first, False)
    assert ingest.event(db, config, load_attempt(db, 1), {**event, "client_event_id": "e2"})[1]
    with pytest.raises(TooManyRequests):
        ingest.event(db, config, load_attempt(db, 1), {**event, "client_event_id": "e3"})
    # Retries are answered even with the allowance spent.
    assert ingest.event(db, config, load_attempt(db, 1), event) == (first, False)


def test_an_event_over_the_allowance_leaves_no_event(db, config):
    """The spend is the last write of the event's transaction: refused there (another request of the attempt
    spent the last of it after this one's check), it takes the event with it."""
    at = int(time.time() * 1000)
    for client_event_id in ("e1", "e2"):
        assert ingest.event(db, config, load_attempt(db, 1), {"attempt_id": 1, "user_id": 7, "event_type": "tab_hidden",
                                                              "at": at, "client_event_id": client_event_id})[1]
    with pytest.raises(TooManyRequests):
        attempts.record_event(db, config, 1, 7, "focus_lost", at, "e3", pay=allowances.payment(config, 1, "events"))
    assert [row[0] for row in db.execute("SELECT client_event_id FROM events ORDER BY id")] == ["e1", "e2"]


def test_an_upload_whose_attempt_is_purged_meanwhile_is_told_so_and_keeps_nothing(app, db, config):
    """A purge may commit between an upload's check of its attempt and the upload's rows: 404, not 500."""
    images, attempt = app.config["IMAGES"], load_attempt(db, 1)
    ingest.camshot(db, config, images, attempt, shot("s1"), png_bytes())
    with db.transaction():
        delete_dependants(db, "camshots", "id", [row[0] for row in db.execute("SELECT id FROM camshots")])
        db.execute("DELETE FROM camshots")
        delete_dependants(db, "attempts", "id", [1])
        db.execute("DELETE FROM attempts WHERE id = 1")
    kept = stored_files(app)
    with pytest.raises(NotFound, match="Attempt 1 was deleted while this upload arrived") as refused:
        ingest.camshot(db, config, images, attempt, shot("s2"), png_bytes())
    assert refused.value.code == "attempt_deleted"
    assert db.execute("SELECT count(*) FROM camshots").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM camshot_originals").fetchone()[0] == 0
    assert stored_files(app) == kept


def stored_files(app):
    return {path for path in Path(app.config["DATA_DIR"]).rglob("*") if path.is_file() and "images" in path.parts}
