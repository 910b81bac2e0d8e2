"""Purge: delete the images, then the rows, of a selection of attempts, in bounded batches.

A purge run is written down before anything is deleted (purge_runs and the attempts it set
out to delete), so a run killed halfway is finished by the next purge or scheduler start.
Each batch removes its images first (one request per batch to an object store), then its
rows in one short write transaction, so
uploads keep their latency while a large purge runs. Held attempts are skipped and counted.
"""
import json
import logging
import os
import secrets
import socket
import time

from .. import audit, storage
from ..db import write_transaction
from .selection import plan, where

log = logging.getLogger(__name__)

LEASE_SECONDS = 120  # a run whose holder has not renewed it for this long is taken over
ATTEMPTS_PER_BATCH_DIVISOR = 20  # attempts carry events and scores: fewer of them per batch
TOTALS = ("attempts", "camshots", "bytes", "held")  # what a purge reports, and its dry run


def new_holder():
    """Names this process in run and lease rows: host, pid, and a token for this use."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(holder):
    """True when the holder was a process on this host that no longer exists."""
    host, _, rest = (holder or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def start(db, selection, actor, now, default_days, holder):
    """Record a purge run and the attempts it will delete; return its id."""
    condition, params = where(selection, now, default_days)
    with write_transaction(db):
        run_id = db.execute(
            "INSERT INTO purge_runs (selection, actor, started_at, holder, lease_until) VALUES (?, ?, ?, ?, ?) "
            "RETURNING id",
            [json.dumps(selection, sort_keys=True), json.dumps(actor), time.time(), holder,
             time.time() + LEASE_SECONDS],
        ).fetchall()[0][0]  # all: SQLite finishes an INSERT ... RETURNING only when its rows are read
        db.execute(
            f"INSERT INTO purge_run_attempts (run_id, attempt_id, user_id) "
            f"SELECT {run_id}, a.id, a.user_id FROM attempts a WHERE {condition} AND a.legal_hold = 0",
            params,
        )
        held = db.execute(
            f"SELECT count(*) FROM attempts a WHERE {condition} AND a.legal_hold != 0", params
        ).fetchone()[0]
        planned_attempts, planned_camshots = db.execute(
            "SELECT count(*), (SELECT count(*) FROM camshots c JOIN purge_run_attempts r ON r.attempt_id = c.attempt_id "
            "AND r.run_id = :run) FROM purge_run_attempts WHERE run_id = :run", {"run": run_id}).fetchone()
        db.execute("UPDATE purge_runs SET held = ?, planned_attempts = ?, planned_camshots = ? WHERE id = ?",
                   [held, planned_attempts, planned_camshots, run_id])
    return run_id


def progress_of(db, run_id, now):
    """How far a run has got, or None when there is no such run: its counters beside its plan, its
    selection, and whether it is stalled (its process gone; the scheduler's next start finishes it)."""
    row = db.execute(
        "SELECT state, selection, attempts, planned_attempts, camshots, planned_camshots, bytes, held, lease_until "
        "FROM purge_runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        return None
    state, selection, *counts, lease_until = row
    progress = dict(zip(("attempts", "planned_attempts", "camshots", "planned_camshots", "bytes", "held"), counts))
    return {**progress, "state": state, "selection": json.loads(selection),
            "stalled": state == "running" and (lease_until is None or lease_until < now)}


class LeaseLost(Exception):
    "Another process took over this purge run"


def run(db, images, run_id, batch_size, holder, pause_ratio=0.0, progress=None):
    """Delete everything the run set out to delete; return its totals.

    pause_ratio: after each batch, rest this many times as long as the batch took, so a
    large purge leaves disk and CPU to uploads (and rests longer when the host is busy).
    progress: called with (camshots deleted, camshots to delete) after each batch.
    """
    planned = db.execute(
        "SELECT count(*) FROM camshots WHERE attempt_id IN (SELECT attempt_id FROM purge_run_attempts WHERE run_id = ?)",
        [run_id]).fetchone()[0] if progress else 0
    deleted = 0
    while True:
        started = time.perf_counter()
        skip_held(db, run_id, holder)
        batch = delete_camshot_batch(db, images, run_id, batch_size, holder)
        if batch and progress:
            deleted += batch
            progress(deleted, max(planned, deleted))
        if (batch or delete_attempt_batch(db, images, run_id, max(1, batch_size // ATTEMPTS_PER_BATCH_DIVISOR),
                                          holder)):
            time.sleep((time.perf_counter() - started) * pause_ratio)
            continue
        if has_pending_attempts(db, run_id):
            # An upload arrived for an attempt between its last camshot batch and its deletion.
            continue
        return finish(db, images, run_id, holder)


def renew(db, run_id, holder, **added):
    """Add to the run's counters and extend its lease, inside the caller's transaction."""
    sets = ", ".join(f"{name} = {name} + :{name}" for name in added)
    cursor = db.execute(
        f"UPDATE purge_runs SET {sets + ', ' if sets else ''}lease_until = :lease WHERE id = :id AND holder = :holder",
        {**added, "lease": time.time() + LEASE_SECONDS, "id": run_id, "holder": holder},
    )
    if cursor.rowcount == 0:
        raise LeaseLost(f"purge run {run_id} is no longer held by {holder}")


def skip_held(db, run_id, holder):
    """Attempts put on hold after the run started are left alone and counted as held."""
    with write_transaction(db):
        held = [r[0] for r in db.execute(
            "SELECT r.attempt_id FROM purge_run_attempts r JOIN attempts a ON a.id = r.attempt_id "
            "WHERE r.run_id = ? AND r.done = 0 AND a.legal_hold != 0", [run_id])]
        if held:
            db.execute(
                f"UPDATE purge_run_attempts SET done = 1 WHERE run_id = ? AND attempt_id IN ({marks(held)})",
                [run_id, *held],
            )
        renew(db, run_id, holder, held=len(held))


def delete_camshot_batch(db, images, run_id, batch_size, holder):
    """One batch of camshots: images, then rows. Return how many were deleted.

    An image already gone (a run resumed after a kill) is fine. The bytes freed are counted
    from the rows, so a dry run and the run agree. A camshot kept as received when the batch
    was chosen may get its PNG from a worker between the two, after the worker's own look for
    its row (camshots.discard_if_purged): those images are deleted again once the rows are gone.
    """
    batch = db.execute(
        "SELECT c.id, c.path, o.camshot_id IS NOT NULL FROM purge_run_attempts r "
        "JOIN attempts a ON a.id = r.attempt_id AND a.legal_hold = 0 JOIN camshots c ON c.attempt_id = r.attempt_id "
        "LEFT JOIN camshot_originals o ON o.camshot_id = c.id WHERE r.run_id = ? AND r.done = 0 LIMIT ?",
        [run_id, batch_size],
    ).fetchall()
    if not batch:
        return 0
    images.delete_many([path for _, path, _ in batch])
    ids = [camshot_id for camshot_id, _, _ in batch]
    with write_transaction(db):
        count, size = db.execute(
            f"SELECT count(*), COALESCE(sum(bytes), 0) FROM camshots WHERE id IN ({marks(ids)})", ids
        ).fetchone()
        delete_dependants(db, "camshots", "id", ids)
        db.execute(f"DELETE FROM camshots WHERE id IN ({marks(ids)})", ids)
        renew(db, run_id, holder, camshots=count, bytes=size)
    unconverted = [path for _, path, kept_as_received in batch if kept_as_received]
    if unconverted:
        images.delete_many(unconverted)
    return len(batch)


def delete_attempt_batch(db, images, run_id, limit, holder):
    """Attempts whose camshots are gone: identity photos, then every row about them."""
    ids = [r[0] for r in db.execute(
        "SELECT r.attempt_id FROM purge_run_attempts r JOIN attempts a ON a.id = r.attempt_id AND a.legal_hold = 0 "
        "WHERE r.run_id = ? AND r.done = 0 AND NOT EXISTS (SELECT 1 FROM camshots c WHERE c.attempt_id = r.attempt_id) "
        "LIMIT ?", [run_id, limit])]
    if not ids:
        return 0
    images.delete_many([path for (path,) in db.execute(
        f"SELECT path FROM reference_photos WHERE attempt_id IN ({marks(ids)})", ids)])
    with write_transaction(db):
        # Checked again under the write lock and the attempts' row locks: a camshot, an event or a hold may
        # have arrived meanwhile. Those are stored without the write lock; the row locks wait for the ones in
        # flight, which the check then sees, and keep out the ones after.
        db.execute(f"SELECT id FROM attempts WHERE id IN ({marks(ids)})" + db.lock_rows_to_delete, ids)
        rows = db.execute(
            f"SELECT id, course_id, quiz_id FROM attempts a WHERE id IN ({marks(ids)}) AND legal_hold = 0 "
            "AND NOT EXISTS (SELECT 1 FROM camshots c WHERE c.attempt_id = a.id)", ids).fetchall()
        ids = [r[0] for r in rows]
        if not ids:
            return 0
        photo_bytes = db.execute(
            f"SELECT COALESCE(sum(bytes), 0) FROM reference_photos WHERE attempt_id IN ({marks(ids)})", ids
        ).fetchone()[0]
        delete_dependants(db, "attempts", "id", ids)
        db.execute(f"DELETE FROM attempts WHERE id IN ({marks(ids)})", ids)
        db.execute(
            f"UPDATE purge_run_attempts SET done = 1 WHERE run_id = ? AND attempt_id IN ({marks(ids)})", [run_id, *ids]
        )
        renew(db, run_id, holder, attempts=len(ids), bytes=photo_bytes)
    for attempt_id, course_id, quiz_id in rows:
        # The attempt's folder, once empty; course and quiz folders stay for other uploads.
        images.tidy(storage.attempt_folder(course_id, quiz_id, attempt_id))
    return len(ids)


def has_pending_attempts(db, run_id):
    return db.execute(
        "SELECT 1 FROM purge_run_attempts r JOIN attempts a ON a.id = r.attempt_id AND a.legal_hold = 0 "
        "WHERE r.run_id = ? AND r.done = 0 LIMIT 1", [run_id]
    ).fetchone() is not None


def finish(db, images, run_id, holder):
    """Users left with no attempt lose their profile photo and row; then the audit row."""
    users = [r[0] for r in db.execute(
        "SELECT DISTINCT r.user_id FROM purge_run_attempts r WHERE r.run_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.user_id = r.user_id)", [run_id])]
    removed_users = delete_users_without_attempts(db, images, users) if users else 0
    with write_transaction(db):
        renew(db, run_id, holder, users=removed_users)
        row = db.execute(
            "SELECT selection, actor, attempts, camshots, bytes, held, users, resumed FROM purge_runs WHERE id = ?",
            [run_id],
        ).fetchone()
        selection, actor, attempts, camshots, size, held, users_removed, resumed = row
        db.execute("DELETE FROM purge_run_attempts WHERE run_id = ?", [run_id])
        db.execute("UPDATE purge_runs SET state = 'done', finished_at = ?, holder = NULL WHERE id = ?",
                   [time.time(), run_id])
        detail = f"run {run_id}: {attempts} attempt(s) deleted, {held} held and kept"
        if users_removed:
            detail += f", {users_removed} user(s) with no attempt left removed with their reference photos"
        if resumed:
            detail += ", resumed after an interruption"
        audit.record(db, "purge", json.loads(actor), json.loads(selection), count=camshots, bytes=size, detail=detail)
    return {"attempts": attempts, "camshots": camshots, "bytes": size, "held": held, "run_id": run_id}


def delete_reference_photos(db, images, user_id):
    """A user's profile reference photos with their face encodings (images, then rows), and the user
    if no attempt is left; returns how many photos went. Identity photos stay with their attempts."""
    photos = db.execute("SELECT id, path FROM reference_photos WHERE user_id = ? AND attempt_id IS NULL",
                        [user_id]).fetchall()
    images.delete_many([path for _, path in photos])
    with write_transaction(db):
        ids = [photo_id for photo_id, _ in photos]
        if ids:
            delete_dependants(db, "reference_photos", "id", ids)
            db.execute(f"DELETE FROM reference_photos WHERE id IN ({marks(ids)})", ids)
    delete_users_without_attempts(db, images, [user_id])
    return len(photos)


def delete_users_without_attempts(db, images, user_ids):
    """Profile reference photos (images, then rows) and user rows of users with no attempt."""
    images.delete_many([path for (path,) in db.execute(
        f"SELECT path FROM reference_photos WHERE user_id IN ({marks(user_ids)}) "
        "AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.user_id = reference_photos.user_id)", user_ids
    )])
    with write_transaction(db):
        gone = [r[0] for r in db.execute(
            f"SELECT id FROM users u WHERE id IN ({marks(user_ids)}) "
            "AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.user_id = u.id)", user_ids)]
        if gone:
            delete_dependants(db, "users", "id", gone)
            db.execute(f"DELETE FROM users WHERE id IN ({marks(gone)})", gone)
    for user_id in gone:
        images.tidy(storage.reference_folder(user_id))
    return len(gone)


def delete_dependants(db, table, column, ids):
    """Delete the rows of every table whose foreign key points at these rows.

    Reading the foreign keys from the schema means a table another part of the sidecar adds
    (per-camshot encodings, say) is cleared with its parent, so no personal datum is
    orphaned. Deeper levels rely on ON DELETE CASCADE, or fail loudly rather than orphan.
    """
    for child, child_column in dependants(db, table, column):
        db.execute(f"DELETE FROM {child} WHERE {child_column} IN ({marks(ids)})", ids)


def dependants(db, table, column):
    """(child table, child column) pairs whose foreign key points at table.column."""
    return [(child, child_column) for child, child_column, parent, parent_column in db.foreign_keys()
            if parent == table and parent_column == column]


def unfinished_runs(db, now):
    """Runs left running by a process that died, or whose lease lapsed."""
    return [run_id for run_id, holder, lease_until in db.execute(
        "SELECT id, holder, lease_until FROM purge_runs WHERE state = 'running' ORDER BY id")
        if lease_until is None or lease_until < now or holder_is_gone(holder)]


def take_over(db, run_id, holder, now):
    """Claim an abandoned run; False when another process claimed it first."""
    with write_transaction(db):
        row = db.execute(
            "SELECT holder, lease_until FROM purge_runs WHERE id = ? AND state = 'running'", [run_id]
        ).fetchone()
        if row is None or not (row[1] is None or row[1] < now or holder_is_gone(row[0])):
            return False
        db.execute("UPDATE purge_runs SET holder = ?, lease_until = ?, resumed = 1 WHERE id = ?",
                   [holder, now + LEASE_SECONDS, run_id])
    return True


def resume_unfinished(db, images, batch_size, holder, pause_ratio=0.0):
    """Finish every interrupted purge run; return their totals."""
    results = []
    for run_id in unfinished_runs(db, time.time()):
        if take_over(db, run_id, holder, time.time()):
            log.info("resuming interrupted purge run %s", run_id)
            results.append(run(db, images, run_id, batch_size, holder, pause_ratio))
    return results


def purge(db, images, selection, actor, now, default_days, batch_size, pause_ratio=0.0, progress=None):
    """Resume any interrupted run, then purge the selection; return the selection's totals."""
    holder = new_holder()
    resume_unfinished(db, images, batch_size, holder, pause_ratio)
    run_id = start(db, selection, actor, now, default_days, holder)
    return run(db, images, run_id, batch_size, holder, pause_ratio, progress)


def purge_with_settings(db, retention, images, selection, actor, now, progress=None):
    """purge() under the RetentionSettings retention."""
    return purge(db, images, selection, actor, now, retention.default_days, retention.batch_size,
                 retention.pause_ratio, progress)


def run_purge(db, retention, images, selection, actor, dry_run, now):
    """The dry run's figures, or the purge's totals: what the API and the console answer."""
    if dry_run:
        return plan(db, selection, now, retention.default_days)
    result = purge_with_settings(db, retention, images, selection, actor, now)
    return {key: result[key] for key in TOTALS}


def marks(values):
    return ", ".join("?" * len(values))
