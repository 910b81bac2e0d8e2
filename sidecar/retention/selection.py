"""Selections of attempts for purge and export, and the figures of a dry run.

A selection names attempts by exact Moodle ids (course, quiz, user, attempt), by age
(`before`: ended before a unix time) or by policy (`expired`). A quiz is named by its instance id
(`quiz_id`, what Moodle's own calls carry) or by its course module id (`cm_id`, the id in the quiz's
address, view.php?id=N, which is what an admin sees): the two numberings overlap, so each has its key. Keys combine with AND, so a
course purge can never reach another course. An empty selection is refused: nothing ever
means "everything".
"""
import datetime

from ..errors import BadRequest
from ..validation import non_negative_int, positive_int
from .policy import EXPIRES_AT_SQL

ID_KEYS = {"course_id": "a.course_id", "quiz_id": "a.quiz_id", "cm_id": "a.cm_id", "user_id": "a.user_id",
           "attempt_id": "a.id"}
ID_NAMES = {"course_id": "course", "quiz_id": "quiz", "cm_id": "quiz module", "user_id": "user", "attempt_id": "attempt"}
QUIZZES_SHOWN = 10
SELECTION_KEYS = (*ID_KEYS, "before", "expired")
LATEST_BEFORE = 253_402_300_799  # 9999-12-31 23:59:59 UTC: later times cannot be shown as dates

# An attempt Moodle never reported finished (abandoned, or its finish call was lost) ages
# from its start, so no attempt can be kept forever by accident.
ENDED_AT_SQL = "COALESCE(a.finished_at, a.started_at)"


def read_selection(body, allowed=()):
    """The selection in a JSON body (or a dict of form strings), checked key by key.

    allowed: other keys the caller's body may carry (dry_run, actor_id...). Any other
    key is refused, so a misspelt key cannot silently widen a purge.
    """
    unknown = sorted(set(body) - set(SELECTION_KEYS) - set(allowed))
    if unknown:
        raise BadRequest(
            "Unknown field(s): " + ", ".join(unknown) + ". A selection takes: " + ", ".join(SELECTION_KEYS) + ".",
            code="invalid_field",
        )
    selection = {}
    for key in ID_KEYS:
        if body.get(key) not in (None, ""):
            selection[key] = positive_int(body[key], key)
    if body.get("before") not in (None, ""):
        selection["before"] = non_negative_int(body["before"], "before")
        if selection["before"] > LATEST_BEFORE:
            raise BadRequest(f"before must be unix seconds up to {LATEST_BEFORE} (the end of year 9999).",
                             code="invalid_field")
    expired = body.get("expired")
    if expired not in (None, False):
        if expired is not True:
            raise BadRequest("expired must be true or false.", code="invalid_field")
        selection["expired"] = True
    if not selection:
        raise BadRequest(
            "The selection is empty: give at least one of " + ", ".join(SELECTION_KEYS) + ". "
            "Nothing is ever purged or exported without one.",
            code="empty_selection",
        )
    return selection


def where(selection, now, default_days):
    """SQL condition on `attempts a` and its parameters for a checked selection."""
    clauses, params = [], {}
    for key, column in ID_KEYS.items():
        if key in selection:
            clauses.append(f"{column} = :{key}")
            params[key] = selection[key]
    if "before" in selection:
        clauses.append(f"{ENDED_AT_SQL} < :before")
        params["before"] = selection["before"]
    if selection.get("expired"):
        clauses.append(f"{EXPIRES_AT_SQL} <= :now")
        params["now"] = now
        params["default_days"] = default_days
    if not clauses:
        raise ValueError("empty selection")  # read_selection refuses these before they get here
    return " AND ".join(clauses), params


def plan(db, selection, now, default_days):
    """The dry run: what a purge of the selection would delete, and what hold keeps."""
    condition, params = where(selection, now, default_days)
    chosen = f"SELECT a.id FROM attempts a WHERE {condition} AND a.legal_hold = 0"
    attempts = db.execute(f"SELECT count(*) FROM ({chosen}) AS chosen", params).fetchone()[0]
    held = db.execute(f"SELECT count(*) FROM attempts a WHERE {condition} AND a.legal_hold != 0", params).fetchone()[0]
    camshots, camshot_bytes = db.execute(
        f"SELECT count(*), COALESCE(sum(bytes), 0) FROM camshots WHERE attempt_id IN ({chosen})", params
    ).fetchone()
    photo_bytes = db.execute(
        f"SELECT COALESCE(sum(bytes), 0) FROM reference_photos WHERE attempt_id IN ({chosen})", params
    ).fetchone()[0]
    return {"attempts": attempts, "camshots": camshots, "bytes": camshot_bytes + photo_bytes, "held": held}


def quizzes_of(db, selection, now, default_days):
    """The quizzes a selection reaches, by name, so that what is deleted is named before it is: at most
    QUIZZES_SHOWN (course name, quiz name, course module id, attempts), the largest first; and their count."""
    condition, params = where(selection, now, default_days)
    rows = db.execute(
        "SELECT max(a.course_name), max(a.quiz_name), a.cm_id, count(*) FROM attempts a "
        f"WHERE {condition} GROUP BY a.cm_id ORDER BY 4 DESC, 3", params).fetchall()
    shown = [{"course_name": row[0] or "", "quiz_name": row[1] or "", "cm_id": row[2], "attempts": row[3]}
             for row in rows[:QUIZZES_SHOWN]]
    return shown, len(rows)


def describe(selection):
    """A short human phrase for a selection, for pages and messages."""
    parts = [f"{ID_NAMES[key]} {selection[key]}" for key in ID_KEYS if key in selection]
    if "before" in selection:
        day = datetime.datetime.fromtimestamp(selection["before"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f"ended before {day}")
    if selection.get("expired"):
        parts.append("expired by policy")
    return ", ".join(parts)
