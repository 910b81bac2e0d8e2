"""Upload allowances: how many camshots and events one attempt may still post.

One allowance per attempt and kind of upload, whichever way the uploads come (forwarded by
Moodle, or straight from the browser with an upload token), so that looping either route cannot
fill the disk or flood the analysis queue.
"""
import math

from .db import without_fsync, write_transaction
from .errors import TooManyRequests

# What an attempt uploads, and the setting that gives its rate per minute.
RATES = {"camshots": "capture.max_shots_per_minute", "events": "capture.max_events_per_minute"}


def spend(db, config, attempt_id, what, now):
    """Take one from the attempt's allowance of `what` (camshots, events), or refuse with 429.

    A token bucket refilled at the configured rate per minute and holding at most one minute's
    worth, so a queue left by a short outage drains at once. It lives in the database, so every
    gunicorn worker process and every node spends from the same bucket.

    Without the database-wide lock, and still never spent twice: the bucket's row is made if it is
    missing (its primary key settles two first spenders: the second waits for the first's commit and
    inserts nothing), then read under its row lock (db.lock_rows; SQLite's one writer), so spenders
    of one attempt read, check and write it one after the other, and spenders of others never wait.
    """
    per_minute = config[RATES[what]]
    # Like a nonce, an allowance only has to outlive a process crash, not a power cut.
    with without_fsync(db), write_transaction(db, exclusive=False):
        db.execute(
            "INSERT INTO upload_allowances (attempt_id, what, allowance, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (attempt_id, what) DO NOTHING",
            [attempt_id, what, per_minute, now],
        )
        left, updated_at = db.execute(
            "SELECT allowance, updated_at FROM upload_allowances WHERE attempt_id = ? AND what = ?" + db.lock_rows,
            [attempt_id, what]).fetchone()
        # A spender that read the clock before another's commit refills nothing, nor turns the clock back.
        allowance = min(per_minute, left + max(0, now - updated_at) * per_minute / 60)
        if allowance < 1:
            wait = (1 - allowance) * 60 / per_minute
            raise TooManyRequests(
                f"More than {per_minute} {what} per minute for attempt {attempt_id}; "
                f"try again in {math.ceil(wait)} s.", retry_after=wait)
        db.execute("UPDATE upload_allowances SET allowance = ?, updated_at = ? WHERE attempt_id = ? AND what = ?",
                   [allowance - 1, max(now, updated_at), attempt_id, what])
