"""Signed API of retention: purge, exports, a user's data, legal hold."""
import time

from flask import Blueprint, current_app, jsonify

from .. import audit
from ..auth import moodle_actor, require_signed_request
from ..db import get_db, write_transaction
from ..errors import BadRequest, NotFound
from ..validation import positive_int
from ..web import export_response, json_body, zip_response
from . import export, policy, purge
from .selection import read_selection

bp = Blueprint("retention_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)

ACTOR_KEYS = ("actor_id", "actor_name")


@bp.post("/purge")
def post_purge():
    body = json_body()
    selection = read_selection(body, allowed=("dry_run", *ACTOR_KEYS))
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false.", code="invalid_field")
    figures = purge.run_purge(get_db(), current_app.config["PROCTORPY"], current_app.config["DATA_DIR"], selection,
                              moodle_actor(body), dry_run, int(time.time()))
    return jsonify(dry_run=dry_run, **figures)


@bp.post("/exports")
def post_export():
    body = json_body()
    selection = read_selection(body, allowed=("include_reports", *ACTOR_KEYS))
    include_reports = body.get("include_reports", False)
    if not isinstance(include_reports, bool):
        raise BadRequest("include_reports must be true or false.", code="invalid_field")
    return export_response(get_db(), selection, moodle_actor(body), include_reports)


@bp.get("/users/<user_id>/data")
def get_user_data(user_id):
    user_id = positive_int(user_id, "user_id")
    db = get_db()
    if db.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone() is None:
        raise NotFound(f"The sidecar holds no data about user {user_id}.", code="unknown_user")
    now = time.time()
    attempts, camshots, size = db.execute(
        "SELECT count(DISTINCT a.id), count(c.id), COALESCE(sum(c.bytes), 0) FROM attempts a "
        "LEFT JOIN camshots c ON c.attempt_id = a.id WHERE a.user_id = ?", [user_id]
    ).fetchone()
    with write_transaction(db):
        audit.record(db, "user_export", moodle_actor(), {"user_id": user_id}, count=camshots, bytes=size,
                     detail=f"privacy export: {attempts} attempt(s)")
    stream = export.stream_user(current_app.config["DB_PATH"], current_app.config["DATA_DIR"], user_id, now)
    return zip_response(stream, f"proctorpy-user-{user_id}.zip")


@bp.delete("/users/<user_id>")
def delete_user(user_id):
    """Privacy deletion: every attempt not on legal hold, then the user and their photos."""
    user_id = positive_int(user_id, "user_id")
    db = get_db()
    if db.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone() is None:
        raise NotFound(f"The sidecar holds no data about user {user_id}.", code="unknown_user")
    actor = moodle_actor()
    data_dir = current_app.config["DATA_DIR"]
    result = purge.purge_with_settings(db, current_app.config["PROCTORPY"], data_dir, {"user_id": user_id}, actor,
                                       int(time.time()))
    # A user with no attempt yet (a reference photo only) is not reached by the attempt purge.
    purge.delete_users_without_attempts(db, data_dir, [user_id])
    kept = db.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone() is not None
    with write_transaction(db):
        audit.record(db, "user_delete", actor, {"user_id": user_id}, count=result["camshots"], bytes=result["bytes"],
                     detail=(f"privacy deletion: {result['attempts']} attempt(s) deleted"
                             + (f"; {result['held']} attempt(s) on legal hold kept, with the user" if kept else "")))
    answer = {key: result[key] for key in purge.TOTALS}
    answer.update(user_id=user_id, user_deleted=not kept)
    if kept:
        answer["message"] = (f"{result['held']} attempt(s) of user {user_id} are on legal hold and were kept; "
                             "release the hold to delete them.")
    return jsonify(answer)


@bp.post("/attempts/<attempt_id>/hold")
def post_hold(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    body = json_body()
    hold = body.get("hold")
    if not isinstance(hold, bool):
        raise BadRequest("hold must be true or false.", code="invalid_field")
    db = get_db()
    with write_transaction(db):
        policy.set_hold(db, attempt_id, hold)
        audit.record(db, "legal_hold", moodle_actor(body), {"attempt_id": attempt_id}, count=1,
                     detail="hold set" if hold else "hold released")
    return jsonify(attempt_id=attempt_id, legal_hold=hold)
