"""Retention policies: how many days after an attempt ended its data is kept.

Resolution, first match wins: legal hold (kept indefinitely), the console's quiz policy,
the quiz's override sent by Moodle with the attempt (settings.retention_days), the
console's course policy, the site default (retention.default_days).
"""
import json
import time

from ..errors import BadRequest, NotFound
from ..validation import positive_int

DAY = 86400
MAX_DAYS = 36500  # a hundred years: anything longer is a typo
SCOPES = ("course", "quiz")

# The attempt's expiry in unix seconds, for `attempts a`; parameter :default_days.
EXPIRES_AT_SQL = (
    "(COALESCE(a.finished_at, a.started_at) + 86400 * COALESCE("
    "(SELECT days FROM retention_policies WHERE scope = 'quiz' AND scope_id = a.quiz_id), "
    "json_extract(a.settings, '$.retention_days'), "
    "(SELECT days FROM retention_policies WHERE scope = 'course' AND scope_id = a.course_id), "
    ":default_days))"
)


def resolve(db, attempt, default_days):
    """The policy in force for one attempt (a dict with course_id, quiz_id, settings...).

    Returns {days, source, held, expires_at}; expires_at is None while held.
    """
    settings = attempt.get("settings") or {}
    if isinstance(settings, str):
        settings = json.loads(settings)
    policies = dict(
        ((scope, scope_id), days)
        for scope, scope_id, days in db.execute(
            "SELECT scope, scope_id, days FROM retention_policies WHERE (scope = 'quiz' AND scope_id = ?) "
            "OR (scope = 'course' AND scope_id = ?)",
            [attempt["quiz_id"], attempt["course_id"]],
        )
    )
    if ("quiz", attempt["quiz_id"]) in policies:
        days, source = policies[("quiz", attempt["quiz_id"])], "quiz policy"
    elif settings.get("retention_days"):
        days, source = int(settings["retention_days"]), "quiz setting in Moodle"
    elif ("course", attempt["course_id"]) in policies:
        days, source = policies[("course", attempt["course_id"])], "course policy"
    else:
        days, source = default_days, "site default"
    ended = attempt.get("finished_at") or attempt["started_at"]
    held = bool(attempt.get("legal_hold"))
    return {"days": days, "source": source, "held": held, "expires_at": None if held else ended + days * DAY}


def days_of(db, scope, scope_id):
    """The days of the console's policy for this course or quiz, or None when it has none."""
    row = db.execute("SELECT days FROM retention_policies WHERE scope = ? AND scope_id = ?", [scope, scope_id]).fetchone()
    return row[0] if row else None


def list_policies(db):
    return [
        {"scope": r[0], "scope_id": r[1], "days": r[2], "updated_at": r[3], "name": r[4] or "", "cm_id": r[5]}
        for r in db.execute(
            "SELECT p.scope, p.scope_id, p.days, p.updated_at, "
            "CASE p.scope WHEN 'course' THEN (SELECT course_name FROM attempts WHERE course_id = p.scope_id LIMIT 1) "
            "ELSE (SELECT quiz_name FROM attempts WHERE quiz_id = p.scope_id LIMIT 1) END, "
            "CASE p.scope WHEN 'quiz' THEN (SELECT cm_id FROM attempts WHERE quiz_id = p.scope_id LIMIT 1) END "
            "FROM retention_policies p ORDER BY p.scope, p.scope_id"
        )
    ]


def read_policy(scope, scope_id, days=None):
    """Check a policy's fields; days may be omitted for a delete."""
    if scope not in SCOPES:
        raise BadRequest("scope must be course or quiz.", code="invalid_field")
    scope_id = positive_int(scope_id, f"{scope}_id")
    if days is not None:
        days = positive_int(days, "days")
        if days > MAX_DAYS:
            raise BadRequest(f"days must be at most {MAX_DAYS}.", code="invalid_field")
    return scope, scope_id, days


def set_policy(db, scope, scope_id, days):
    db.execute(
        "INSERT INTO retention_policies (scope, scope_id, days, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(scope, scope_id) DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at",
        [scope, scope_id, days, time.time()],
    )


def delete_policy(db, scope, scope_id):
    cursor = db.execute("DELETE FROM retention_policies WHERE scope = ? AND scope_id = ?", [scope, scope_id])
    if cursor.rowcount == 0:
        raise NotFound(f"There is no {scope} policy for {scope} {scope_id}.")


def set_hold(db, attempt_id, hold):
    """Put an attempt on legal hold or release it; NotFound for an unknown attempt."""
    cursor = db.execute(
        "UPDATE attempts SET legal_hold = ?, updated_at = ? WHERE id = ?", [1 if hold else 0, time.time(), attempt_id]
    )
    if cursor.rowcount == 0:
        raise NotFound(f"Attempt {attempt_id} is not registered with the sidecar.", code="unknown_attempt")
