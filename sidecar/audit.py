"""The audit log: who viewed, downloaded, reviewed or deleted what, and how much."""
import json
import time


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
