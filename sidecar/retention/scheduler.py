"""The daily retention job: purge what policies say has expired, prune the audit log and nonces.

It runs in the `proctorpy serve` supervisor (never in gunicorn workers), and each run holds
a lease row in the database, so two sidecars sharing a data dir never run it at once. With
images in a bucket it also repairs the bucket (storage/repair.py says why there).
"""
import logging
import time

from .. import audit, nonces, storage
from ..db import connect, database_location, write_transaction
from . import purge
from .selection import plan
from .settings import retention_settings

log = logging.getLogger(__name__)

JOB_LEASE = "retention"
JOB_LEASE_SECONDS = 6 * 3600  # longer than any daily run; released as soon as the run ends
CATCH_UP_AFTER = 26 * 3600  # a sidecar that was down at run_at catches up on start
AUDIT_BATCH = 5000


def acquire_lease(db, name, holder, seconds, now):
    """Take the named lease unless a live holder has it; True when taken."""
    with write_transaction(db):
        db.execute("INSERT INTO leases (name, lease_until) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", [name])
        current, until = db.execute("SELECT holder, lease_until FROM leases WHERE name = ?", [name]).fetchone()
        if until > now and current != holder and not purge.holder_is_gone(current):
            return False
        db.execute("UPDATE leases SET holder = ?, lease_until = ? WHERE name = ?", [holder, now + seconds, name])
    return True


def release_lease(db, name, holder, ran_at=None):
    with write_transaction(db):
        db.execute(
            "UPDATE leases SET holder = NULL, lease_until = 0, last_run_at = COALESCE(?, last_run_at) "
            "WHERE name = ? AND holder = ?", [ran_at, name, holder],
        )


def last_run_at(db):
    row = db.execute("SELECT last_run_at FROM leases WHERE name = ?", [JOB_LEASE]).fetchone()
    return row[0] if row else None


def run_daily(config, database, now=None):
    """One run of the daily job; returns what it did, or None when another process holds it."""
    now = time.time() if now is None else now
    retention = retention_settings(config)
    db = connect(database)
    holder = purge.new_holder()
    try:
        if not acquire_lease(db, JOB_LEASE, holder, JOB_LEASE_SECONDS, now):
            log.info("retention: another process holds the daily job; skipping")
            return None
        try:
            images = storage.image_store(config)
            result = {"resumed": purge.resume_unfinished(db, images, retention.batch_size, holder,
                                                         retention.pause_ratio)}
            selection = {"expired": True}
            due = plan(db, selection, now, retention.default_days)
            result["expired"] = due
            if due["attempts"]:
                run_id = purge.start(db, selection, audit.SYSTEM, now, retention.default_days, holder)
                result["purged"] = purge.run(db, images, run_id, retention.batch_size, holder, retention.pause_ratio)
            result["audit_rows_removed"] = prune_audit_log(db, now - retention.audit_days * 86400)
            # Nonces older than twice the skew window can only come with a refused timestamp.
            with write_transaction(db):
                result["nonces_removed"] = nonces.prune(db, now - 2 * config["security.max_skew"])
            if not images.local:
                # A folder store is repaired at each start, before uploads; a bucket here, once a day on one node.
                result["repair"] = storage.repair(db, images, storage.ORPHAN_GRACE_SECONDS)
        finally:
            release_lease(db, JOB_LEASE, holder, ran_at=now)
        log.info("retention: %s", result)
        return result
    finally:
        db.close()


def prune_audit_log(db, cutoff):
    """Audit rows and finished purge runs older than the audit retention, in batches."""
    removed = 0
    while True:
        with write_transaction(db):
            count = db.execute(
                f"DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? LIMIT {AUDIT_BATCH})",
                [cutoff],
            ).rowcount
        removed += count
        if count < AUDIT_BATCH:
            break
    with write_transaction(db):
        db.execute("DELETE FROM purge_runs WHERE state = 'done' AND finished_at < ?", [cutoff])
        if removed:
            audit.record(db, "audit_purge", audit.SYSTEM, {"before": int(cutoff)}, count=removed,
                         detail="audit rows past retention.audit_days")
    return removed


def start_scheduler(config):
    """A started APScheduler running the daily job at retention.run_at (local time).

    On start it also finishes interrupted purges, and catches up when the last daily
    run is older than a day (the sidecar was down at run_at).
    """
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    database = database_location(config)
    hour, minute = (int(part) for part in retention_settings(config).run_at.split(":"))
    scheduler = BackgroundScheduler()
    scheduler.add_job(run_daily, CronTrigger(hour=hour, minute=minute), args=[config, database],
                      id="retention", max_instances=1, coalesce=True, misfire_grace_time=3600)
    db = connect(database)
    try:
        last = last_run_at(db)
    finally:
        db.close()
    if last is None or time.time() - last > CATCH_UP_AFTER:
        scheduler.add_job(run_daily, args=[config, database], id="retention-catch-up")
    else:
        scheduler.add_job(resume_interrupted, args=[config, database], id="retention-resume")
    scheduler.start()
    return scheduler


def resume_interrupted(config, database):
    """Finish purges a crash interrupted, without waiting for the next daily run."""
    retention = retention_settings(config)
    db = connect(database)
    try:
        return purge.resume_unfinished(db, storage.image_store(config), retention.batch_size, purge.new_holder(),
                                       retention.pause_ratio)
    finally:
        db.close()
