"""Signed API of retention: purge, exports, a user's data, legal hold."""
import time

from flask import Blueprint, current_app, jsonify, request

from .. import attempts, audit
from ..db import write_transaction
from ..errors import BadRequest, NotFound
from ..retention import export, involvement, policy, purge
from ..retention.selection import read_selection
from ..validation import id_list, positive_int
from .auth import moodle_actor, require_signed_request
from .connections import get_db
from .requests import export_response, json_body, zip_response

bp = Blueprint("retention_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)

ACTOR_KEYS = ("actor_id", "actor_name")


def _held_user(user_id):
    """The database and the id of a user the sidecar holds data about; 404 unknown_user for any other."""
    user_id = positive_int(user_id, "user_id")
    db = get_db()
    if not attempts.knows_user(db, user_id):
        raise NotFound(f"The sidecar holds no data about user {user_id}.", code="unknown_user")
    return db, user_id


@bp.post("/purge")
def post_purge():
    body = json_body()
    selection = read_selection(body, allowed=("dry_run", *ACTOR_KEYS))
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false.", code="invalid_field")
    figures = purge.run_purge(get_db(), current_app.config["RETENTION"], current_app.config["IMAGES"], selection,
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
    """Privacy export: everything held about the user, or only what quiz_ids and references name."""
    db, user_id = _held_user(user_id)
    # Either parameter narrows the export to what the parameters name: a privacy request approved for
    # some quizzes gets those quizzes' attempts, and the reference photos only where asked for.
    narrowed = "quiz_ids" in request.args or "references" in request.args
    if "quiz_ids" in request.args:
        quiz_ids = id_list(request.args["quiz_ids"], "quiz_ids", export.MAX_QUIZ_IDS)
    else:
        quiz_ids = frozenset() if narrowed else None
    references = request.args.get("references", "0" if narrowed else "1")
    if references not in ("0", "1"):
        raise BadRequest("references must be 1 (with the profile reference photos) or 0.", code="invalid_field")
    stream = export.start_user(db, current_app.config["DATABASE"], current_app.config["IMAGES"], user_id,
                               moodle_actor(), time.time(), quiz_ids, references == "1")
    return zip_response(stream, f"proctorpy-user-{user_id}.zip")


@bp.delete("/users/<user_id>")
def delete_user(user_id):
    """Privacy deletion: every attempt not on legal hold, then the user and their photos, and their name in other
    students' attempts."""
    db, user_id = _held_user(user_id)
    actor = moodle_actor()
    images = current_app.config["IMAGES"]
    result = purge.purge_with_settings(db, current_app.config["RETENTION"], images, {"user_id": user_id}, actor,
                                       int(time.time()))
    # A user with no attempt yet (a reference photo only) is not reached by the attempt purge.
    purge.delete_users_without_attempts(db, images, [user_id])
    involvement.forget(db, current_app.config["PROCTORPY"], user_id)
    kept = attempts.knows_user(db, user_id)
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


@bp.delete("/users/<user_id>/reference")
def delete_reference(user_id):
    """Privacy deletion of the profile reference photos and their face encodings; the attempts stay."""
    db, user_id = _held_user(user_id)
    photos = purge.delete_reference_photos(db, current_app.config["IMAGES"], user_id)
    kept = attempts.knows_user(db, user_id)
    with write_transaction(db):
        audit.record(db, "user_delete", moodle_actor(), {"user_id": user_id}, count=photos,
                     detail=f"privacy deletion: {photos} profile reference photo(s)")
    return jsonify(user_id=user_id, reference_photos=photos, user_deleted=not kept)


def _quiz_ids():
    """The quizzes a privacy request about someone's involvement names, every quiz when absent."""
    if "quiz_ids" not in request.args:
        return None
    return id_list(request.args["quiz_ids"], "quiz_ids", export.MAX_QUIZ_IDS)


@bp.get("/users/<user_id>/involvement")
def get_involvement(user_id):
    """The user in other students' attempts: the reviews they wrote, the camshots that recognised them. A user
    the sidecar knows nothing else about (a teacher) is not refused. Audited as a privacy export with view=export;
    without, it only finds where a privacy request has to look."""
    user_id = positive_int(user_id, "user_id")
    quiz_ids = _quiz_ids()
    view = request.args.get("view")
    if view not in (None, "export"):
        raise BadRequest("view must be export (a privacy export) or absent.", code="invalid_field")
    db = get_db()
    found = involvement.involvement(db, user_id, quiz_ids)
    if view == "export":
        with write_transaction(db):
            audit.record(db, "user_export", moodle_actor(), _involvement_selection(user_id, quiz_ids),
                         count=len(found["reviews"]) + len(found["mentions"]), detail="privacy export: involvement")
    return jsonify(user_id=user_id, **found)


@bp.delete("/users/<user_id>/involvement")
def delete_involvement(user_id):
    """Privacy deletion of the user in other students' attempts (involvement.forget)."""
    user_id = positive_int(user_id, "user_id")
    quiz_ids = _quiz_ids()
    db = get_db()
    counts = involvement.forget(db, current_app.config["PROCTORPY"], user_id, quiz_ids)
    with write_transaction(db):
        audit.record(db, "user_delete", moodle_actor(), _involvement_selection(user_id, quiz_ids),
                     count=counts["reviews"] + counts["mentions"],
                     detail=(f"privacy deletion: named in {counts['reviews']} review(s) and "
                             f"{counts['mentions']} camshot(s) of other students' attempts"))
    return jsonify(user_id=user_id, **counts)


def _involvement_selection(user_id, quiz_ids):
    return {"user_id": user_id, **({"quiz_ids": sorted(quiz_ids)} if quiz_ids is not None else {})}


@bp.get("/quizzes/<quiz_id>/involved")
def get_quiz_involved(quiz_id):
    """The users involved in a quiz's attempts without being their students: reviewers, students recognised."""
    quiz_id = positive_int(quiz_id, "quiz_id")
    return jsonify(quiz_id=quiz_id, **involvement.quiz_people(get_db(), quiz_id))


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
