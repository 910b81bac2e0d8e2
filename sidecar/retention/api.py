"""Signed API of retention: purge, exports, a user's data, legal hold."""
import time

from flask import Blueprint, Response, current_app, jsonify, stream_with_context

from .. import audit
from ..auth import moodle_actor, require_signed_request
from ..db import get_db, write_transaction
from ..errors import BadRequest, NotFound
from ..validation import json_body, positive_int
from . import export, policy, purge
from .selection import plan, read_selection

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
    return jsonify(dry_run=dry_run, **run_purge(get_db(), selection, moodle_actor(body), dry_run))


def run_purge(db, selection, actor, dry_run):
    """The dry-run figures, or the real purge's totals; shared by the API and the console."""
    config = current_app.config["PROCTORPY"]
    now = int(time.time())
    if dry_run:
        return plan(db, selection, now, config["retention.default_days"])
    result = purge.purge(db, current_app.config["DATA_DIR"], selection, actor, now,
                         config["retention.default_days"], config["retention.batch_size"],
                         config["retention.pause_ratio"])
    return {key: result[key] for key in ("attempts", "camshots", "bytes", "held")}


@bp.post("/exports")
def post_export():
    body = json_body()
    selection = read_selection(body, allowed=("include_reports", *ACTOR_KEYS))
    include_reports = body.get("include_reports", False)
    if not isinstance(include_reports, bool):
        raise BadRequest("include_reports must be true or false.", code="invalid_field")
    return export_response(get_db(), selection, moodle_actor(body), include_reports)


def export_response(db, selection, actor, include_reports):
    """Audit the export, then stream its ZIP; shared by the API and the console."""
    config = current_app.config["PROCTORPY"]
    now = time.time()
    renderer = report_renderer() if include_reports else None
    if include_reports and renderer is None:
        raise BadRequest("Report PDFs are not available in this sidecar; export without include_reports.",
                         code="reports_unavailable")
    totals = export.figures(db, selection, now, config["retention.default_days"])
    with write_transaction(db):
        audit.record(db, "export", actor, selection, count=totals["camshots"], bytes=totals["bytes"],
                     detail=f"{totals['attempts']} attempt(s)" + (", with report PDFs" if renderer else ""))
    stream = export.stream_selection(current_app.config["DB_PATH"], current_app.config["DATA_DIR"], selection,
                                     now, config["retention.default_days"], report_pdf=renderer)
    return zip_response(stream, f"proctorpy-export-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}.zip")


def zip_response(stream, filename):
    response = Response(stream_with_context(stream), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def report_renderer():
    """report_pdf(db, attempt_id) -> PDF bytes from sidecar.reports, or None where it is missing."""
    try:
        from ..reports.pdf import render_pdf
        from ..reports.report import build_report, time_zone
    except ImportError:
        return None
    config = current_app.config["PROCTORPY"]
    data_dir = current_app.config["DATA_DIR"]
    zone = time_zone(None, config["reports.timezone"])

    def report_pdf(db, attempt_id):
        return render_pdf(build_report(db, config, attempt_id, zone), data_dir)

    return report_pdf


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
    config = current_app.config["PROCTORPY"]
    data_dir = current_app.config["DATA_DIR"]
    result = purge.purge(db, data_dir, {"user_id": user_id}, actor, int(time.time()),
                         config["retention.default_days"], config["retention.batch_size"],
                         config["retention.pause_ratio"])
    # A user with no attempt yet (a reference photo only) is not reached by the attempt purge.
    purge.delete_users_without_attempts(db, data_dir, [user_id])
    kept = db.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone() is not None
    with write_transaction(db):
        audit.record(db, "user_delete", actor, {"user_id": user_id}, count=result["camshots"], bytes=result["bytes"],
                     detail=(f"privacy deletion: {result['attempts']} attempt(s) deleted"
                             + (f"; {result['held']} attempt(s) on legal hold kept, with the user" if kept else "")))
    answer = {key: result[key] for key in ("attempts", "camshots", "bytes", "held")}
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
