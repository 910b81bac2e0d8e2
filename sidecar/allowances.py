"""Upload allowances: how many camshots and events one attempt may still post.

One allowance per attempt and kind of upload, whichever way the uploads come (forwarded by
Moodle, or straight from the browser with an upload token), so that looping either route cannot
fill the disk or flood the analysis queue.
"""
import math
import time

from .errors import TooManyRequests

# What an attempt uploads, and the setting that gives its rate per minute.
RATES = {"camshots": "capture.max_shots_per_minute", "events": "capture.max_events_per_minute"}


def spend(db, config, attempt_id, what, now):
    """Take one from the attempt's allowance of `what` (camshots, events), or refuse with 429.

    A token bucket refilled at the configured rate per minute and holding at most one minute's
    worth, so a queue left by a short outage drains at once. It lives in the database, so every
    gunicorn worker process and every node spends from the same bucket.

    One statement, without the database-wide lock, and still never spent twice: the bucket's row
    is made full less one if it is missing, else refilled and spent under its row lock (the upsert
    takes it; SQLite's one writer), and only while a whole upload is left, so spenders of one
    attempt read, check and write it one after the other, and spenders of others never wait.

    In the upload's write transaction (payment), so that an upload and its spend commit together and
    an upload that is not stored costs nothing.
    """
    per_minute = config[RATES[what]]
    # The later of now and the last spend: a spender that read the clock before another's commit refills nothing,
    # nor turns the clock back. refilled: what the bucket holds now (as _refilled in Python).
    later = "CASE WHEN :now > upload_allowances.updated_at THEN :now ELSE upload_allowances.updated_at END"
    gone = f"{later} - upload_allowances.updated_at"
    refilled = (f"CASE WHEN upload_allowances.allowance + ({gone}) * :per_second > :most THEN :most "
                f"ELSE upload_allowances.allowance + ({gone}) * :per_second END")
    spent = db.execute(
        "INSERT INTO upload_allowances (attempt_id, what, allowance, updated_at) VALUES (:attempt, :what, :most - 1, :now) "
        f"ON CONFLICT (attempt_id, what) DO UPDATE SET allowance = {refilled} - 1, "
        f"updated_at = {later} WHERE {refilled} >= 1",
        {"attempt": attempt_id, "what": what, "now": float(now), "most": float(per_minute),
         "per_second": per_minute / 60},
    ).rowcount
    if not spent:
        raise _refusal(config, attempt_id, what, now, *_bucket(db, attempt_id, what))


def payment(config, attempt_id, what):
    """pay(db) for an upload's transaction: spend one of the attempt's allowance of `what` at the moment it runs,
    last, so that the bucket's row is locked only to the commit."""
    return lambda db: spend(db, config, attempt_id, what, time.time())


def refuse_if_empty(db, config, attempt_id, what, now):
    """Refuse (429) an upload the attempt's allowance has no whole upload left for, as it stands now.

    Before a camshot is decoded, so that a client past its allowance costs a read, not a decode; spend()
    still decides, under the row's lock, in the upload's transaction.
    """
    bucket = _bucket(db, attempt_id, what)
    if bucket is not None and _refilled(config[RATES[what]], *bucket, now) < 1:
        raise _refusal(config, attempt_id, what, now, *bucket)


def _refusal(config, attempt_id, what, now, left, updated_at):
    """The 429 for an upload past the allowance, saying when one will be left (none to wait when it refilled
    since it was spent out)."""
    per_minute = config[RATES[what]]
    wait = max(0, (1 - _refilled(per_minute, left, updated_at, now)) * 60 / per_minute)
    return TooManyRequests(f"More than {per_minute} {what} per minute for attempt {attempt_id}; "
                           f"try again in {math.ceil(wait)} s.", retry_after=wait)


def _bucket(db, attempt_id, what):
    """(allowance, updated_at) of the attempt's bucket as last spent, or None before its first spend."""
    return db.execute("SELECT allowance, updated_at FROM upload_allowances WHERE attempt_id = ? AND what = ?",
                      [attempt_id, what]).fetchone()


def _refilled(per_minute, left, updated_at, now):
    """What the bucket holds now: what was left, refilled since, at most a minute's worth (the upsert's SQL)."""
    return min(per_minute, left + max(0, now - updated_at) * per_minute / 60)
