"""The metadata database: connections, write transactions, named migrations.

It lives in the data dir's SQLite file, or on a PostgreSQL server when database.url is set
(sidecar/database/ holds what differs between the two). The migrations below are written once
for both: their types are SQLite's names, which the PostgreSQL engine reads as its own.
"""
import time

from .database import (  # noqa: F401  (the domain code's one place to import them from)
    DatabaseUnavailable, IntegrityError, connect, database_location, describe, is_postgresql,
)
from .database.sqlite import BUSY_TIMEOUT_MS  # noqa: F401

MIGRATIONS = []  # in the order they apply; a new one goes at the end (tests/test_database.py pins the order)
MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"


def migration(function):
    """Register a migration: applied after those above it in this module, recorded by its name."""
    MIGRATIONS.append(function)
    return function


def write_transaction(db, exclusive=True):
    """A write transaction that takes the write lock up front, so a read-then-write never races.

    On SQLite that is BEGIN IMMEDIATE. On PostgreSQL it is a database-wide advisory lock, held to
    the commit; exclusive=False leaves it out for statements safe side by side (a row lock through
    db.lock_rows, a SKIP LOCKED claim, a unique key, a guarded UPDATE: see allowances.py,
    analysis/queue.py), so that they run in parallel on several nodes. docs/admin-guide.md lists
    what still takes it.
    """
    return db.transaction(exclusive)


def without_fsync(db):
    """Commits in this block do not wait for the disk: durable against a process crash, not a power cut.

    For bookkeeping that only has to outlive a crash (nonces, the console's sign-in throttle and
    sessions), so that it does not pay the fsync a camshot's row pays.
    """
    return db.relaxed_durability()


def migrate(db):
    """Apply the migrations this database has not recorded yet, in their order; return their names."""
    with write_transaction(db):
        db.install_functions()
        db.execute(MIGRATIONS_TABLE)
        name_numbered_migrations(db)
    done = applied_migrations(db)
    applied = []
    for function in MIGRATIONS:
        name = function.__name__
        if name in done:
            continue
        with write_transaction(db):
            # Another process may have applied it while this one waited for the lock.
            if db.execute("SELECT 1 FROM migrations WHERE name = ?", [name]).fetchone():
                continue
            function(db)
            db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, time.time()])
        applied.append(name)
    return applied


def name_numbered_migrations(db):
    """Record by name the migrations a database recorded by number, before migrations were named.

    A number was the migration's place in MIGRATIONS, whose order is pinned, so it still names it.
    Inside migrate()'s write transaction, which keeps two processes from doing it at once.
    """
    columns = [column[0] for column in db.execute("SELECT * FROM migrations LIMIT 0").description]
    if "number" not in columns:
        return
    numbered = db.execute("SELECT number, applied_at FROM migrations ORDER BY number").fetchall()
    db.execute("DROP TABLE migrations")
    db.execute(MIGRATIONS_TABLE)
    db.execute_many("INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    [(MIGRATIONS[number - 1].__name__, applied_at) for number, applied_at in numbered])


def applied_migrations(db):
    """The names of the migrations this database has recorded."""
    return {row[0] for row in db.execute("SELECT name FROM migrations")}


def pending_migrations(db):
    """The names of the migrations this database has not recorded yet, in their order (read only: a
    database still numbering its migrations has their names too)."""
    done = applied_migrations(db)
    return [function.__name__ for function in MIGRATIONS if function.__name__ not in done]


@migration
def create_core_tables(db):
    db.executescript(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,              -- Moodle user id
            fullname TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,              -- Moodle quiz attempt id
            user_id INTEGER NOT NULL REFERENCES users(id),
            course_id INTEGER NOT NULL,
            course_name TEXT NOT NULL DEFAULT '',
            quiz_id INTEGER NOT NULL,
            cm_id INTEGER NOT NULL,
            quiz_name TEXT NOT NULL DEFAULT '',
            started_at INTEGER NOT NULL,         -- unix seconds
            finished_at INTEGER,                 -- unix seconds
            settings TEXT NOT NULL DEFAULT '{}', -- the quiz's settings snapshot (JSON)
            legal_hold INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX attempts_quiz ON attempts(quiz_id);
        CREATE INDEX attempts_course ON attempts(course_id);
        CREATE INDEX attempts_user ON attempts(user_id);
        CREATE INDEX attempts_finished ON attempts(finished_at);

        CREATE TABLE camshots (
            id TEXT PRIMARY KEY,
            attempt_id INTEGER NOT NULL REFERENCES attempts(id),
            client_shot_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('attempt', 'identity')),
            taken_at INTEGER NOT NULL,           -- unix milliseconds, the browser's clock
            received_at REAL NOT NULL,
            path TEXT NOT NULL,                  -- relative to the data dir
            bytes INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'ok', 'no_face', 'multiple_faces', 'mismatch', 'unreadable')),
            faces INTEGER,
            boxes TEXT,                          -- JSON [[top, right, bottom, left], ...] in stored pixels
            distance REAL,                       -- smallest distance to the student's references
            matched_user_id INTEGER,             -- another student of the quiz whose reference matched
            analysed_at REAL,
            error TEXT,
            UNIQUE (attempt_id, client_shot_id)
        );
        CREATE INDEX camshots_attempt_taken ON camshots(attempt_id, taken_at);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            attempt_id INTEGER NOT NULL REFERENCES attempts(id),
            type TEXT NOT NULL,
            at INTEGER NOT NULL,                 -- unix milliseconds, the browser's clock
            client_event_id TEXT NOT NULL,
            received_at REAL NOT NULL,
            UNIQUE (attempt_id, client_event_id)
        );
        CREATE INDEX events_attempt_at ON events(attempt_id, at);

        CREATE TABLE reference_photos (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            attempt_id INTEGER REFERENCES attempts(id),   -- set for an identity photo of one attempt
            source TEXT NOT NULL CHECK (source IN ('profile', 'identity')),
            path TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            encoding BLOB,                       -- 128 float64 face encoding
            created_at REAL NOT NULL
        );
        CREATE INDEX reference_photos_user ON reference_photos(user_id);
        CREATE INDEX reference_photos_attempt ON reference_photos(attempt_id);

        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            camshot_id TEXT NOT NULL UNIQUE REFERENCES camshots(id) ON DELETE CASCADE,
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
            tries INTEGER NOT NULL DEFAULT 0,
            lease_until REAL,
            worker TEXT,
            last_error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX jobs_state ON jobs(state, lease_until);

        CREATE TABLE scores (
            attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),
            value REAL,                          -- NULL when the attempt cannot be scored
            flagged INTEGER NOT NULL DEFAULT 0,
            metrics TEXT NOT NULL DEFAULT '{}',  -- JSON: per-metric percentages, weights, reason
            computed_at REAL NOT NULL
        );

        CREATE TABLE reviews (
            attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),
            conclusion TEXT NOT NULL CHECK (conclusion IN ('accepted', 'rejected')),
            comment TEXT NOT NULL DEFAULT '',
            reviewer_id INTEGER,
            reviewer_name TEXT NOT NULL DEFAULT '',
            reviewed_at REAL NOT NULL
        );

        CREATE TABLE retention_policies (
            scope TEXT NOT NULL CHECK (scope IN ('course', 'quiz')),
            scope_id INTEGER NOT NULL,
            days INTEGER NOT NULL CHECK (days > 0),
            updated_at REAL NOT NULL,
            PRIMARY KEY (scope, scope_id)
        );

        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor_type TEXT NOT NULL,            -- moodle, console, system, cli
            actor_id TEXT,
            actor_name TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            selection TEXT NOT NULL DEFAULT '{}',
            count INTEGER,
            bytes INTEGER,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_at ON audit_log(at);

        CREATE TABLE nonces (
            nonce TEXT PRIMARY KEY,
            seen_at REAL NOT NULL
        );
        CREATE INDEX nonces_seen ON nonces(seen_at);
        """
    )


@migration
def create_purge_runs(db):
    # A purge run remembers what it set out to delete, so a purge killed halfway is finished
    # later with exactly the same attempts (and nothing a later upload added to the selection).
    db.executescript(
        """
        CREATE TABLE purge_runs (
            id INTEGER PRIMARY KEY,
            selection TEXT NOT NULL,             -- JSON selection as given
            actor TEXT NOT NULL,                 -- JSON actor, for the audit row written at the end
            state TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
            started_at REAL NOT NULL,
            finished_at REAL,
            holder TEXT,                         -- host:pid:token of the process running it
            lease_until REAL,
            resumed INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0, -- deleted so far
            camshots INTEGER NOT NULL DEFAULT 0,
            bytes INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            users INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX purge_runs_state ON purge_runs(state, lease_until);
        CREATE TABLE purge_run_attempts (
            run_id INTEGER NOT NULL REFERENCES purge_runs(id) ON DELETE CASCADE,
            attempt_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, attempt_id)
        );
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,               -- e.g. the daily retention job
            holder TEXT,
            lease_until REAL NOT NULL DEFAULT 0,
            last_run_at REAL
        );
        """
    )


@migration
def create_console_admins(db):
    db.executescript(
        """
        CREATE TABLE admins (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,         -- scrypt$n$r$p$salt$hash
            created_at REAL NOT NULL,
            last_sign_in_at REAL
        );
        """
    )


@migration
def create_direct_allowances(db):
    # Rate limit of direct uploads: one token bucket per attempt and kind of upload, shared by
    # every gunicorn worker through the database.
    db.executescript(
        """
        CREATE TABLE direct_allowances (
            attempt_id INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
            what TEXT NOT NULL CHECK (what IN ('camshots', 'events')),
            allowance REAL NOT NULL,             -- uploads that may still be made now
            updated_at REAL NOT NULL,
            PRIMARY KEY (attempt_id, what)
        );
        """
    )


@migration
def index_identity_camshots(db):
    # The quiz overview counts each attempt's camshots less its identity photo; a partial index
    # finds the few identity camshots without reading every row, and costs attempt shots nothing.
    db.execute("CREATE INDEX camshots_identity ON camshots(attempt_id) WHERE kind = 'identity'")


@migration
def create_sign_in_failures(db):
    # Console sign-in throttle: wrong passwords per admin name and per client address, shared by
    # every gunicorn worker through the database.
    db.executescript(
        """
        CREATE TABLE sign_in_failures (
            key TEXT PRIMARY KEY,                -- account:<admin name> or address:<client address>
            failures INTEGER NOT NULL,           -- sign-ins counted since the last success or lockout
            last_at REAL NOT NULL,               -- the latest of them; older than the lockout, they are forgotten
            locked_until REAL                    -- refused with 429 until then
        );
        """
    )


@migration
def rename_upload_allowances(db):
    # The allowance is spent by forwarded uploads as well as direct ones.
    db.execute("ALTER TABLE direct_allowances RENAME TO upload_allowances")


@migration
def record_identity_passes(db):
    # The identity step ends with the first passing check: later identity photos are refused.
    db.execute("ALTER TABLE attempts ADD COLUMN identity_passed_at REAL")


@migration
def repair_capture_times(db):
    # Camshot and event times were once stored as the browser sent them. One that lies outside what its
    # attempt and its arrival allow (attempts.EARLIEST_BEFORE_START, LATEST_AHEAD) becomes its arrival
    # time, the sidecar's own clock, so that no stored time stretches a report past the attempt's span.
    for table, column in (("camshots", "taken_at"), ("events", "at")):
        arrived = db.integer_part("received_at * 1000")
        db.execute(
            f"UPDATE {table} SET {column} = {arrived} WHERE {column} > {arrived} + 120000 OR {column} < "
            f"(SELECT (a.started_at - 300) * 1000 FROM attempts a WHERE a.id = {table}.attempt_id)"
        )


@migration
def freeze_attempt_references(db):
    # The reference an attempt is judged against is frozen with it: its own copy of the profile photo, a
    # reference_photos row with source 'profile' and the attempt's id, named here once frozen (frozen with no
    # usable photo: reference_frozen_at set, reference_photo_id NULL). A profile photo records when it became
    # the user's picture and its face distance to the one it replaced, so a later attempt sees a recent change
    # or another person. A teacher's decision on an identity photo with no reference to match closes the step.
    db.executescript(
        """
        ALTER TABLE attempts ADD COLUMN reference_frozen_at REAL;
        ALTER TABLE attempts ADD COLUMN reference_photo_id TEXT;
        ALTER TABLE attempts ADD COLUMN identity_decision TEXT CHECK (identity_decision IN ('approved', 'refused'));
        ALTER TABLE attempts ADD COLUMN identity_decided_at REAL;
        ALTER TABLE reference_photos ADD COLUMN changed_at REAL;
        ALTER TABLE reference_photos ADD COLUMN change_distance REAL;
        CREATE TABLE reference_changes (
            attempt_id INTEGER NOT NULL REFERENCES attempts(id),
            photo_id TEXT NOT NULL,              -- the profile photo that changed (its row may be gone since)
            kind TEXT NOT NULL CHECK (kind IN ('another_person', 'recent_change')),
            distance REAL NOT NULL,              -- face distance between the new photo and the one it replaced
            changed_at REAL NOT NULL,            -- when it became the user's picture
            recorded_at REAL NOT NULL,
            PRIMARY KEY (attempt_id, photo_id)
        );
        """
    )


@migration
def create_console_sessions(db):
    # Console sessions held by the server, so that signing out, deleting an admin or changing a
    # password ends them wherever their cookie has been copied to.
    db.executescript(
        """
        CREATE TABLE console_sessions (
            id_hash TEXT PRIMARY KEY,            -- SHA-256 of the cookie's random id: a copy of this table signs no one in
            account TEXT NOT NULL,               -- local:<admin name> or moodle:<user id>
            name TEXT NOT NULL,                  -- the admin's name as audited
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,          -- idle past console.session_idle_minutes, the session ends
            expires_at REAL NOT NULL             -- console.session_hours after sign-in
        );
        CREATE INDEX console_sessions_account ON console_sessions(account);
        """
    )


@migration
def create_installation(db):
    # Who this installation is (a random id, kept by `proctorpy move`) and which Moodle site it
    # serves (learnt from the site's first signed call), so that another's data never mixes in.
    db.execute("CREATE TABLE installation (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def create_identity_challenges(db):
    # The identity step's liveness challenges: drawn per attempt, used once, each check's outcome kept so
    # that past identity.max_refusals the student waits for the teacher. Purged with their attempt.
    db.execute("""
        CREATE TABLE identity_challenges (
            id TEXT PRIMARY KEY,
            attempt_id INTEGER NOT NULL REFERENCES attempts(id),
            kind TEXT NOT NULL,
            issued_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL,
            outcome TEXT CHECK (outcome IN ('passed', 'refused')),
            reason TEXT
        )""")
    db.execute("CREATE INDEX identity_challenges_attempt ON identity_challenges(attempt_id)")


@migration
def record_console_run_progress(db):
    # How far a purge or an export started from the console has got, for the page that follows it:
    # a purge's plan beside its counters, and an export's bytes sent against the images' bytes.
    db.execute("ALTER TABLE purge_runs ADD COLUMN planned_attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE purge_runs ADD COLUMN planned_camshots INTEGER NOT NULL DEFAULT 0")
    db.execute("""
        CREATE TABLE export_runs (
            key TEXT PRIMARY KEY,                -- random, named by the export page before the download starts
            actor_id TEXT NOT NULL,              -- only the admin who started it reads it
            attempts INTEGER NOT NULL,
            camshots INTEGER NOT NULL,
            bytes INTEGER NOT NULL,              -- the images' bytes, about the ZIP's size
            sent INTEGER NOT NULL DEFAULT 0,     -- bytes of the ZIP sent so far
            state TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""")


@migration
def create_camshot_originals(db):
    # A camshot as its upload was received (PNG or JPEG bytes, already checked), kept until the analysis worker
    # writes its PNG to the image store: acknowledging does not wait for the PNG encode. The settings its PNG is
    # to be made with are kept beside it, so that a reader converting it before the worker sees the same pixels
    # the worker will store. Deleted with its camshot.
    db.execute("""
        CREATE TABLE camshot_originals (
            camshot_id TEXT PRIMARY KEY REFERENCES camshots(id) ON DELETE CASCADE,
            data BLOB NOT NULL,
            max_width INTEGER NOT NULL,
            compress_level INTEGER NOT NULL,
            palette_colors INTEGER                -- NULL: a full-colour PNG
        )""")
