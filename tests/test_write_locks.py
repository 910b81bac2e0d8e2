"""The hot paths without the database-wide write lock: upload allowances, events, scores and the analysis queue
stay correct with writers side by side on several connections, and on PostgreSQL a camshot, an event and an
analysis job go through while another connection holds the lock that migrations, purges and the console take."""
import fcntl
import threading
import time
import urllib.parse

import psycopg
import pytest

from conftest import SignedTestClient, face_bytes
from sidecar import allowances, attempts, create_app
from sidecar.analysis import camshots as analysis, queue
from sidecar.analysis.faces import Verdict
from sidecar.database.postgresql import WRITE_LOCK
from sidecar.db import connect, database_location, write_transaction
from sidecar.errors import TooManyRequests
from sidecar.views.connections import close_app
from test_direct_upload import bearer, post_camshot, post_event, upload_token

WRITERS = 8  # connections writing side by side


@pytest.fixture
def location(config):
    """The backend's database, migrated, with attempt 1 of user 7 registered."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    location = database_location(config)
    db = connect(location)
    try:
        attempts.register(db, config, 1, {"user_id": 7, "course_id": 3, "quiz_id": 11, "cm_id": 42,
                                          "started_at": int(time.time()) - 600})
    finally:
        db.close()
    return location


def side_by_side(location, work, writers=WRITERS):
    """work(db, n) run by `writers` threads at once, each on a connection of its own; their results in order.

    A barrier lets them all start together, so their transactions overlap.
    """
    barrier = threading.Barrier(writers)
    results, errors = [None] * writers, []

    def run(n):
        db = connect(location)
        try:
            barrier.wait()
            results[n] = work(db, n)
        except BaseException as error:  # reported by the test, not lost in its thread
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def add_camshots(location, count):
    """`count` camshot rows of attempt 1, each with its queued analysis job; their ids."""
    ids, now = [f"shot{n:04}" for n in range(count)], time.time()
    db = connect(location)
    try:
        with write_transaction(db):
            for n, camshot_id in enumerate(ids):
                db.execute("INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, "
                           "bytes, width, height, sha256) VALUES (?, 1, ?, 'attempt', ?, ?, 'x.png', 10, 1, 1, '')",
                           [camshot_id, f"c{n}", int(now * 1000), now])
                db.execute("INSERT INTO jobs (camshot_id, created_at, updated_at) VALUES (?, ?, ?)",
                           [camshot_id, now, now])
    finally:
        db.close()
    return ids


def count(location, sql, params=()):
    db = connect(location)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


@pytest.mark.engines
def test_spenders_side_by_side_never_exceed_the_allowance(config, location):
    config["capture.max_shots_per_minute"] = 12
    now = time.time()  # one moment for all: nothing is refilled, so exactly 12 spends can pass

    def spend(db, n):
        spent = 0
        for _ in range(5):
            try:
                with write_transaction(db, exclusive=False):  # as an upload spends: in its transaction
                    allowances.spend(db, config, 1, "camshots", now)
                spent += 1
            except TooManyRequests:
                pass
        return spent

    assert sum(side_by_side(location, spend)) == 12  # of 40 tries
    assert count(location, "SELECT allowance FROM upload_allowances WHERE attempt_id = 1 AND what = 'camshots'") == 0


@pytest.mark.engines
def test_the_same_event_sent_side_by_side_is_recorded_once(config, location):
    at = int(time.time() * 1000)

    def record(db, n):
        return attempts.record_event(db, config, 1, 7, "tab_hidden", at, "the-same-event")

    results = side_by_side(location, record)
    assert sorted(new for _, new in results) == [False] * (WRITERS - 1) + [True]
    assert len({event["id"] for event, _ in results}) == 1  # each answer names the one stored
    assert count(location, "SELECT count(*) FROM events") == 1
    assert count(location, "SELECT count(*) FROM scores WHERE attempt_id = 1") == 1


@pytest.mark.engines
def test_events_side_by_side_each_count_in_the_last_score(config, location):
    at = int(time.time() * 1000)

    def record(db, n):
        return attempts.record_event(db, config, 1, 7, "focus_lost", at + n, f"event-{n}")

    assert all(new for _, new in side_by_side(location, record))
    db = connect(location)
    try:
        # The score stored last was computed with every event: computing it again changes nothing.
        stored = db.execute("SELECT value, flagged, metrics FROM scores WHERE attempt_id = 1").fetchone()
        attempts.recompute_score(db, config, 1)
        assert db.execute("SELECT value, flagged, metrics FROM scores WHERE attempt_id = 1").fetchone() == stored
    finally:
        db.close()


@pytest.mark.engines
def test_workers_side_by_side_complete_each_job_once(config, location):
    ids = add_camshots(location, 40)

    def drain(db, n):
        done = []
        while (job := queue.claim(db, f"worker-{n}", lease_seconds=600)) is not None:
            camshot = analysis.load_camshot(db, job.camshot_id)
            assert analysis.record(db, job, camshot, Verdict("no_face", 0, [], None, None))
            done.append(job.camshot_id)
        return done

    completed = [camshot_id for done in side_by_side(location, drain) for camshot_id in done]
    assert sorted(completed) == ids  # each job once, none left
    assert count(location, "SELECT count(*) FROM jobs WHERE state = 'done'") == len(ids)


@pytest.mark.engines
def test_two_claims_of_one_job_never_both_record_it(config, location):
    (camshot_id,) = add_camshots(location, 1)
    db = connect(location)
    try:
        now = time.time()
        stalled = queue.claim(db, "stalled", lease_seconds=1, now=now)
        taken_over = queue.claim(db, "taker", lease_seconds=600, now=now + 2)  # the first lease ran out
        camshot = analysis.load_camshot(db, camshot_id)
    finally:
        db.close()
    claims = [stalled, taken_over] * (WRITERS // 2)

    def record(db, n):
        return analysis.record(db, claims[n], camshot, Verdict("no_face", 0, [], None, None))

    recorded = side_by_side(location, record)
    # Only the claim holding the job records it, and only once; the stalled claim never does.
    assert recorded.count(True) == 1 and not any(recorded[::2])
    assert count(location, "SELECT count(*) FROM jobs WHERE state = 'done' AND worker = 'taker'") == 1


def with_lock_timeout(url):
    """The database URL whose connections wait at most a few seconds for a lock, then fail, rather than hang."""
    return url + "?options=" + urllib.parse.quote("-c lock_timeout=5s")


# SQLite's alone: PostgreSQL's writers wait for row locks in the server, each woken when its turn comes.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_writers_take_turns_through_the_writer_lock_file(config, location):
    """A writer holds the lock file beside the database to its commit, so the next is woken at once, not after
    SQLite's own busy wait (which sleeps up to 100 ms at a time); readers never take it."""
    def lock_is_free():
        with open(f"{location}-writer", "rb") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

    db = connect(location)
    try:
        assert lock_is_free()
        with write_transaction(db, exclusive=False):
            db.execute("UPDATE attempts SET legal_hold = 1 WHERE id = 1")
            assert not lock_is_free()
        assert lock_is_free()
        assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 1 and lock_is_free()
        # A writer waiting for the lock goes on when the holder commits, and sees what it wrote.
        spent = threading.Event()

        def spend_while_held():
            other = connect(location)
            try:
                with write_transaction(other, exclusive=False):
                    allowances.spend(other, config, 1, "camshots", time.time())
                spent.set()
            finally:
                other.close()

        with write_transaction(db, exclusive=False):
            db.execute("UPDATE attempts SET legal_hold = 0 WHERE id = 1")
            waiter = threading.Thread(target=spend_while_held)
            waiter.start()
            assert not spent.wait(0.2)  # it waits for the holder's commit
        waiter.join()
        assert spent.is_set() and lock_is_free()
        assert count(location, "SELECT count(*) FROM upload_allowances") == 1
    finally:
        db.close()


# PostgreSQL's alone: SQLite has one writer at a time, whose lock its hot paths take by design.
@pytest.mark.parametrize("backend", ["postgresql-s3"], indirect=True)
def test_camshots_events_and_jobs_go_through_while_the_write_lock_is_held(config, location):
    config["database.url"] = with_lock_timeout(config["database.url"])
    app = create_app(config)
    holder = psycopg.connect(location, autocommit=True)
    db = connect(config["database.url"])
    try:
        api, client = SignedTestClient(app.test_client()), app.test_client()
        assert api.get("/api/v1/attempts/1").status_code == 200  # the site is learnt before the lock is taken
        holder.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK])
        # What takes the lock waits for it, and here fails after lock_timeout: the lock is held.
        with pytest.raises(psycopg.errors.LockNotAvailable):
            with write_transaction(db):
                pass
        image = face_bytes("obama/obama-480p.jpg", width=320, fmt="JPEG")
        assert api.post_camshot(image, content_type="image/jpeg", client_shot_id="signed").status_code == 201
        event = {"attempt_id": 1, "user_id": 7, "type": "tab_hidden", "at": int(time.time() * 1000),
                 "client_event_id": "signed-event"}
        assert api.json("POST", "/api/v1/events", event).status_code == 201
        token = bearer(upload_token())
        assert post_camshot(client, token, client_shot_id="direct").status_code == 201
        assert post_event(client, token, client_event_id="direct-event").status_code == 201
        # A worker's job: claimed, its reference frozen, analysed, its verdict recorded, the score recomputed.
        job = queue.claim(db, "worker", lease_seconds=600)
        assert analysis.process(db, config, app.config["IMAGES"], job) is not None
        # A job given back, given back without counting its try, and failed at its last try.
        job = queue.claim(db, "worker", lease_seconds=600)
        queue.put_back(db, job, "the store did not answer")
        job = queue.claim(db, "worker", lease_seconds=600)
        assert queue.release(db, job, "it broke", max_tries=3) is None
        job = queue.claim(db, "worker", lease_seconds=1, now=time.time() - 10)
        assert queue.fail_abandoned(db, max_tries=2) == [1]
        assert db.execute("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state").fetchall() == [
            ("done", 1), ("failed", 1)]
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 2
        assert db.execute("SELECT attempt_id FROM scores").fetchall() == [(1,)]
        assert db.execute("SELECT reference_frozen_at IS NOT NULL FROM attempts").fetchone()[0]
    finally:
        db.close()
        holder.close()
        close_app(app)
