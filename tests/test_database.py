"""The database layer: one interface over SQLite and PostgreSQL, and what differs between them."""
import time

import pytest

from conftest import postgresql_database
from sidecar.analysis import queue
from sidecar.database.postgresql import psycopg_sql
from sidecar.db import MIGRATIONS, IntegrityError, connect, migrate, pending_migrations, write_transaction

# Every migration by name, in the order they apply: a database records the names it has applied, so a
# migration is never renamed, removed or put before another; a new one goes at the end of both lists.
APPLIED_IN_ORDER = [
    "create_core_tables", "create_purge_runs", "create_console_admins", "create_direct_allowances",
    "index_identity_camshots", "create_sign_in_failures", "rename_upload_allowances", "record_identity_passes",
    "repair_capture_times", "freeze_attempt_references", "create_console_sessions", "create_installation",
    "create_identity_challenges", "record_console_run_progress", "create_camshot_originals",
]

# The database layer itself: every test here runs on both engines.
pytestmark = pytest.mark.engines


@pytest.fixture
def db(config):
    """A connection of its own to the backend's database: migrated, or empty for a test marked empty_database."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    database = connect(config["database.url"] or config.data_dir / "proctorpy.db")
    yield database
    database.close()


def add_jobs(db, count):
    """An attempt with `count` camshots, each with its queued analysis job."""
    now = time.time()
    with write_transaction(db):
        db.execute("INSERT INTO users (id, fullname, updated_at) VALUES (7, 'Ada', ?)", [now])
        db.execute("INSERT INTO attempts (id, user_id, course_id, quiz_id, cm_id, started_at, created_at, updated_at) "
                   "VALUES (1, 7, 3, 11, 42, 0, ?, ?)", [now, now])
        for n in range(count):
            db.execute("INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, "
                       "width, height, sha256) VALUES (?, 1, ?, 'attempt', ?, ?, 'x.png', 10, 1, 1, '')",
                       [f"shot{n}", f"c{n}", n, now])
            db.execute("INSERT INTO jobs (camshot_id, created_at, updated_at) VALUES (?, ?, ?)", [f"shot{n}", now, now])


def test_placeholders_become_psycopgs():
    assert psycopg_sql("SELECT a FROM t WHERE x = ? AND y LIKE 'a%?' AND z = :name AND w::int = 1 AND v % 2 = 0") == (
        "SELECT a FROM t WHERE x = %s AND y LIKE 'a%%?' AND z = %(name)s AND w::int = 1 AND v %% 2 = 0")


def test_a_broken_unique_key_is_one_error_and_the_connection_goes_on(db):
    db.execute("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", ["n1", 1.5])
    with pytest.raises(IntegrityError):
        db.execute("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", ["n1", 2.5])
    with pytest.raises(IntegrityError), write_transaction(db):
        db.execute("INSERT INTO nonces (nonce, seen_at) VALUES (:nonce, :at)", {"nonce": "n1", "at": 3.5})
    assert db.execute("SELECT nonce, seen_at FROM nonces").fetchall() == [("n1", 1.5)]


def test_timestamps_keep_their_precision_and_sums_are_plain_numbers(db):
    # REAL is a double on both engines (PostgreSQL's own REAL is 32-bit), and a sum of integers an int.
    db.execute("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", ["n", 1796160583.156])
    assert db.execute("SELECT seen_at FROM nonces").fetchone()[0] == 1796160583.156
    db.execute_many("INSERT INTO sign_in_failures (key, failures, last_at) VALUES (?, ?, ?)",
                    [("account:a", 2, 1.0), ("account:b", 3, 1.0)])
    (total,) = db.execute("SELECT sum(failures) FROM sign_in_failures").fetchone()
    assert total == 5 and isinstance(total, int)


@pytest.mark.empty_database
def test_migrations_run_once(db):
    assert migrate(db) == [function.__name__ for function in MIGRATIONS]
    assert migrate(db) == []
    assert db.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    assert pending_migrations(db) == []


def test_migrations_keep_their_names_and_their_order(tmp_path):
    """A migration inserted among the others, renamed or removed fails here; one added at the end is listed."""
    assert [function.__name__ for function in MIGRATIONS] == APPLIED_IN_ORDER
    database = connect(tmp_path / "fresh.db")
    try:
        assert migrate(database) == APPLIED_IN_ORDER
    finally:
        database.close()


@pytest.mark.empty_database
def test_a_database_that_numbered_its_migrations_is_upgraded_without_running_one_twice(config):
    """Before migrations were named, each was recorded by its place in the list (number, name, applied_at)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    database = connect(config["database.url"] or config.data_dir / "proctorpy.db")
    earlier = MIGRATIONS[:-1]  # what a sidecar of that time had applied
    try:
        with write_transaction(database):
            database.install_functions()
            database.execute("CREATE TABLE migrations (number INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
            for number, function in enumerate(earlier, start=1):
                function(database)
                database.execute("INSERT INTO migrations VALUES (?, ?, ?)", [number, function.__name__, 1000.0 + number])
        assert pending_migrations(database) == [MIGRATIONS[-1].__name__]
        # Running create_core_tables again would fail on its existing tables: only the last one runs.
        assert migrate(database) == [MIGRATIONS[-1].__name__]
        recorded = dict(database.execute("SELECT name, applied_at FROM migrations").fetchall())
        assert set(recorded) == set(APPLIED_IN_ORDER)
        assert {name: recorded[name] for name in APPLIED_IN_ORDER[:-1]} == {
            function.__name__: 1000.0 + number for number, function in enumerate(earlier, start=1)}
        assert migrate(database) == [] and pending_migrations(database) == []
    finally:
        database.close()


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_database_starts_migrated_and_empty(db, turn):
    """What create_app migrates at its start is already done: the suite migrates once per run, not per test.
    The second turn takes the database the first one wrote to (on PostgreSQL, emptied for it)."""
    assert migrate(db) == []
    assert db.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    with write_transaction(db):
        row_id = db.execute("INSERT INTO audit_log (at, actor_type, action) VALUES (1.0, 'system', 'turn') "
                            "RETURNING id").fetchone()[0]
    assert row_id == 1  # numbering starts again too


def test_a_claim_passes_over_the_job_another_claim_holds():
    """On PostgreSQL a worker never waits for, nor takes, the job another worker's claim has locked."""
    with postgresql_database() as url:
        first, second = connect(url), connect(url)
        try:
            migrate(first)
            add_jobs(first, 2)
            # A claim that waited for the held row would wait for this very test: it fails instead.
            second.execute("SET lock_timeout = '30s'")
            with write_transaction(first, exclusive=False):
                held = first.execute("SELECT id FROM jobs ORDER BY id LIMIT 1" + first.skip_locked).fetchone()[0]
                job = queue.claim(second, "worker-2", 60)
                assert job is not None and job.id != held
                assert queue.claim(second, "worker-2", 60) is None  # the held one is not handed out
            assert queue.claim(second, "worker-2", 60).id == held  # once its claim ends, it is
        finally:
            first.close()
            second.close()


def test_many_rows_in_one_call_and_a_broken_key_among_them_is_the_same_error(db):
    with write_transaction(db):
        db.execute_many("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING",
                        [("a", 1.0), ("b", 2.0), ("a", 3.0)])
    assert db.execute("SELECT nonce, seen_at FROM nonces ORDER BY nonce").fetchall() == [("a", 1.0), ("b", 2.0)]
    with pytest.raises(IntegrityError), write_transaction(db):
        db.execute_many("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", [("c", 1.0), ("b", 2.0)])
    assert db.execute("SELECT count(*) FROM nonces").fetchone()[0] == 2


def test_rows_copied_with_their_ids_are_numbered_on_from_after_restart_numbering(db):
    with write_transaction(db):
        db.execute_many("INSERT INTO audit_log (id, at, actor_type, action) VALUES (?, ?, 'system', 'copied')",
                        [(5, 1.0), (9, 2.0)])
    db.restart_numbering()
    with write_transaction(db):
        new_id = db.execute("INSERT INTO audit_log (at, actor_type, action) VALUES (3.0, 'system', 'new') "
                            "RETURNING id").fetchone()[0]
    assert new_id == 10
