"""The audit log: who viewed, downloaded, reviewed or deleted what, and how much."""
import json
import time

COLUMNS = ("id", "at", "actor_type", "actor_id", "actor_name", "action", "selection", "count", "bytes", "detail")


def readable(text):
    """Text a caller sent, storable as it reads: PostgreSQL keeps no NUL character in text."""
    return text.replace("\x00", "\ufffd") if isinstance(text, str) else text


def record(db, action, actor, selection=None, count=None, bytes=None, detail=""):
    """Append one audit row; actor is a dict with actor_type, actor_id, actor_name."""
    db.execute(
        "INSERT INTO audit_log (at, actor_type, actor_id, actor_name, action, selection, count, bytes, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            time.time(), actor["actor_type"], readable(actor.get("actor_id")), readable(actor.get("actor_name") or ""),
            action, json.dumps(selection or {}, sort_keys=True), count, bytes, readable(detail),
        ],
    )


def attempt_selection(attempt):
    """What an audit row about one attempt names: the attempt, its student, quiz and course."""
    return {"attempt_id": attempt["id"], "user_id": attempt["user_id"], "quiz_id": attempt["quiz_id"],
            "course_id": attempt["course_id"]}


SYSTEM = {"actor_type": "system", "actor_id": None, "actor_name": "proctorpy"}


def search(db, filters, before_id=None, limit=100):
    """Audit rows (dicts of COLUMNS) that match the filters, newest first; before_id pages back.

    filters: action (exact), actor (an actor id, or part of a name, in any case), since and until
    (unix seconds, until excluded); what is empty or absent does not filter.
    """
    condition, params = _condition(filters)
    if before_id:
        condition += " AND id < ?"
        params.append(before_id)
    return [dict(zip(COLUMNS, row)) for row in db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE {condition} ORDER BY id DESC LIMIT ?", [*params, limit])]


def pages(db, filters, size=1000):
    """Every row search() finds, newest first, a page at a time: each page its own short read, so a long log
    streams in flat memory."""
    before_id = None
    while True:
        page = search(db, filters, before_id, size)
        yield page
        if len(page) < size:
            return
        before_id = page[-1]["id"]


def actions(db):
    """The actions the log holds, for a filter's choices."""
    return [row[0] for row in db.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]


def _condition(filters):
    clauses, params = [], []
    if filters.get("action"):
        clauses.append("action = ?")
        params.append(filters["action"])
    if filters.get("actor"):
        # lower() on both sides: SQLite's LIKE ignores case, PostgreSQL's does not.
        clauses.append("(actor_id = ? OR lower(actor_name) LIKE lower(?) ESCAPE '\\')")
        escaped = filters["actor"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params += [filters["actor"], f"%{escaped}%"]
    for key, operator in (("since", ">="), ("until", "<")):
        if filters.get(key) is not None:
            clauses.append(f"at {operator} ?")
            params.append(filters[key])
    return (" AND ".join(clauses) or "TRUE"), params
