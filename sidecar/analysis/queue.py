"""The durable analysis queue: one `jobs` row per camshot, claimed under a lease.

A job is created with its camshot, in the same transaction (camshots.store).
A worker claims it for analysis.lease_seconds; if the worker dies, the lease runs out and
another worker tries again, at most analysis.max_tries times in all. A job is done only in
the transaction that writes its camshot's verdict, and only by the claim that holds it, so
a job whose lease was taken over cannot be recorded twice.

Claims take no database-wide write lock: on PostgreSQL, workers on any number of hosts claim
side by side, each passing over the rows another one's claim has locked (FOR UPDATE SKIP
LOCKED); on SQLite the one writer at a time keeps them apart. Nor do completing, failing and
giving back a job: each changes the job's row only while the claim holds it, in one guarded
UPDATE or under the row's lock, so two claims of one job never both record it.
"""
import time
from collections import namedtuple

from ..db import write_transaction

Job = namedtuple("Job", "id camshot_id tries worker")


def claim(db, worker, lease_seconds, now=None):
    """The oldest job that is queued or whose lease ran out, now leased to worker; or None."""
    now = time.time() if now is None else now
    with write_transaction(db, exclusive=False):
        # Both lookups follow the (state, lease_until) index; a retry goes before new work.
        row = db.execute(
            "SELECT id, camshot_id, tries FROM jobs WHERE state = 'running' AND lease_until < ? "
            "ORDER BY lease_until LIMIT 1" + db.skip_locked,
            [now],
        ).fetchone() or db.execute(
            "SELECT id, camshot_id, tries FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1" + db.skip_locked
        ).fetchone()
        if row is None:
            return None
        _lease(db, row[0], worker, now + lease_seconds, now)
    return Job(row[0], row[1], row[2] + 1, worker)


def claim_burst(db, worker, lease_seconds, size, now=None):
    """The oldest claimable job (as claim) and up to size - 1 more queued jobs of its camshot's attempt, oldest
    first, all leased to worker; [] if there is none.

    Camshots of one attempt analysed together share their references, their score and the face each tracks.
    """
    now = time.time() if now is None else now
    first = claim(db, worker, lease_seconds, now)
    if first is None or size <= 1:
        return [first] if first else []
    with write_transaction(db, exclusive=False):
        rows = db.execute(
            "SELECT id, camshot_id, tries FROM jobs WHERE state = 'queued' AND camshot_id IN "
            "(SELECT id FROM camshots WHERE attempt_id = (SELECT attempt_id FROM camshots WHERE id = ?)) "
            "ORDER BY id LIMIT ?" + db.skip_locked,
            [first.camshot_id, size - 1],
        ).fetchall()
        for row in rows:
            _lease(db, row[0], worker, now + lease_seconds, now)
    return [first] + [Job(row[0], row[1], row[2] + 1, worker) for row in rows]


def claim_camshot(db, camshot_id, worker, lease_seconds, now=None):
    """Lease the job of one camshot (the identity check analyses it at once); None if taken."""
    now = time.time() if now is None else now
    with write_transaction(db, exclusive=False):
        row = db.execute(
            "SELECT id, tries FROM jobs WHERE camshot_id = ? "
            "AND (state = 'queued' OR (state = 'running' AND lease_until < ?))" + db.skip_locked,
            [camshot_id, now],
        ).fetchone()
        if row is None:
            return None
        _lease(db, row[0], worker, now + lease_seconds, now)
    return Job(row[0], camshot_id, row[1] + 1, worker)


def _lease(db, job_id, worker, until, now):
    db.execute(
        "UPDATE jobs SET state = 'running', tries = tries + 1, lease_until = ?, worker = ?, updated_at = ? "
        "WHERE id = ?",
        [until, worker, now, job_id],
    )


def complete(db, job, now=None):
    """Mark the job done if this claim still holds it; call inside the verdict's transaction.

    One UPDATE guarded by the claim (worker and try): a second one waits for the row's lock, reads the
    row as the first left it, and changes nothing, so a job is done once and its verdict written once.
    """
    now = time.time() if now is None else now
    cursor = db.execute(
        "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = ? "
        "WHERE id = ? AND state = 'running' AND worker = ? AND tries = ?",
        [now, job.id, job.worker, job.tries],
    )
    return cursor.rowcount == 1


def release(db, job, error, max_tries, now=None):
    """Give a job back after a failure that another try may not repeat; the last try fails it.

    Returns the attempt id whose camshot became unreadable, or None.
    """
    now = time.time() if now is None else now
    # Without the database-wide lock: a guarded UPDATE, or the claim's check under the row's lock (_holds).
    with write_transaction(db, exclusive=False):
        if job.tries < max_tries:
            db.execute(
                "UPDATE jobs SET state = 'queued', lease_until = NULL, last_error = ?, updated_at = ? "
                "WHERE id = ? AND state = 'running' AND worker = ? AND tries = ?",
                [error, now, job.id, job.worker, job.tries],
            )
            return None
        if not _holds(db, job):
            return None
        return _give_up(db, job.id, job.camshot_id, f"Analysis failed {job.tries} times; last error: {error}", now)


def put_back(db, job, error, now=None):
    """Give a job back without counting its try: the image store did not answer, which says nothing
    about the camshot, so an outage of the store never marks camshots unreadable."""
    now = time.time() if now is None else now
    with write_transaction(db, exclusive=False):  # one UPDATE guarded by the claim, as complete()'s
        db.execute(
            "UPDATE jobs SET state = 'queued', tries = tries - 1, lease_until = NULL, last_error = ?, updated_at = ? "
            "WHERE id = ? AND state = 'running' AND worker = ? AND tries = ?",
            [error, now, job.id, job.worker, job.tries],
        )


def fail_abandoned(db, max_tries, now=None):
    """Fail the jobs whose last allowed try ran out of lease; return their attempt ids.

    A job that crashes or hangs every worker it reaches (a poison image) ends here, its
    camshot marked unreadable with the reason, instead of stalling the queue.
    """
    now = time.time() if now is None else now
    abandoned = "state = 'running' AND lease_until < ? AND tries >= ?"
    # Looked for without the write lock first: workers ask before every job, and it is rare.
    if db.execute(f"SELECT 1 FROM jobs WHERE {abandoned} LIMIT 1", [now, max_tries]).fetchone() is None:
        return []
    attempts = []
    # Without the database-wide lock: the abandoned jobs are locked as they are read, passing over those
    # a claim holds; a job claimed again meanwhile no longer matches once locked, and is left alone.
    with write_transaction(db, exclusive=False):
        rows = db.execute(f"SELECT id, camshot_id, tries, worker FROM jobs WHERE {abandoned}" + db.skip_locked,
                          [now, max_tries]).fetchall()
        for job_id, camshot_id, tries, worker in rows:
            reason = (f"Analysis did not finish in {tries} tries: the worker ({worker}) stopped or crashed "
                      "each time.")
            attempts.append(_give_up(db, job_id, camshot_id, reason, now))
    return [a for a in attempts if a is not None]


def backlog(db):
    """Jobs waiting for analysis or under it: {queued, running, oldest_created_at (None when there are none)}."""
    rows = db.execute(
        "SELECT state, count(*), min(created_at) FROM jobs WHERE state IN ('queued', 'running') GROUP BY state"
    ).fetchall()
    counts = {state: count for state, count, _ in rows}
    return {"queued": counts.get("queued", 0), "running": counts.get("running", 0),
            "oldest_created_at": min((oldest for _, _, oldest in rows), default=None)}


def _holds(db, job):
    """Whether this claim still holds the job (its lease was not taken over); if so the job's row stays locked
    to the commit, so no other claim takes it over meanwhile."""
    return db.execute(
        "SELECT 1 FROM jobs WHERE id = ? AND state = 'running' AND worker = ? AND tries = ?" + db.lock_rows,
        [job.id, job.worker, job.tries],
    ).fetchone() is not None


def _give_up(db, job_id, camshot_id, reason, now):
    db.execute("UPDATE jobs SET state = 'failed', lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
               [reason, now, job_id])
    db.execute(
        "UPDATE camshots SET status = 'unreadable', faces = NULL, boxes = NULL, distance = NULL, "
        "matched_user_id = NULL, analysed_at = ?, error = ? WHERE id = ?",
        [now, reason, camshot_id],
    )
    row = db.execute("SELECT attempt_id FROM camshots WHERE id = ?", [camshot_id]).fetchone()
    return row[0] if row else None

