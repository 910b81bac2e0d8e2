"""Signed analysis endpoints: a user's reference photo, the identity check of an attempt, and a teacher's
decision on an identity photo that had no reference to match."""
import time

from flask import Blueprint, current_app, jsonify, request

from .. import attempts, camshots
from ..analysis import decisions, identity, references
from ..errors import BadRequest
from ..validation import non_negative_int, positive_int, required
from .auth import moodle_actor, require_signed_request
from .connections import get_db
from .requests import json_body, uploaded_image

bp = Blueprint("analysis_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)


@bp.put("/users/<user_id>/reference")
def put_reference(user_id):
    """Store a user's Moodle profile photo if it shows exactly one face; replace the earlier one."""
    user_id = positive_int(user_id, "user_id")
    changed_at = _changed_at(request.form.get("changed_at"))
    data = uploaded_image()
    return jsonify(references.replace_profile_photo(get_db(), current_app.config["PROCTORPY"],
                                                    current_app.config["IMAGES"], user_id, data, moodle_actor(),
                                                    changed_at))


def _changed_at(value):
    """When the photo became the user's picture (unix seconds, Moodle's file time), never ahead of the clock."""
    if value in (None, ""):
        return None
    changed_at = non_negative_int(value, "changed_at")
    skew = current_app.config["PROCTORPY"]["security.max_skew"]
    if changed_at > time.time() + skew:
        raise BadRequest(f"changed_at must not lie ahead of the sidecar's clock (by more than {skew} s).",
                         code="invalid_field")
    return changed_at


@bp.post("/attempts/<attempt_id>/identity/challenge")
def post_identity_challenge(attempt_id):
    """Draw the liveness challenge the student follows at the attempt's next identity check."""
    attempt_id = positive_int(attempt_id, "attempt_id")
    body = json_body()
    required(body, "user_id")
    db = get_db()
    attempt = attempts.load_attempt(db, attempt_id, must_belong_to=positive_int(body["user_id"], "user_id"), status=409)
    return jsonify(identity.challenge(db, current_app.config["PROCTORPY"], attempt)), 201


@bp.post("/attempts/<attempt_id>/identity")
def post_identity(attempt_id):
    """Check the frames taken while the student followed the challenge; keep the one facing the camera as the
    identity photo, analyse it now, and say whether the student may start."""
    fields = camshots.identity_fields(positive_int(attempt_id, "attempt_id"), request.form)
    frames = [upload.read() for upload in request.files.getlist("frame")]
    db = get_db()
    attempt = attempts.load_attempt(db, fields["attempt_id"], must_belong_to=fields["user_id"], status=409)
    return jsonify(identity.check_live(db, current_app.config["PROCTORPY"], current_app.config["IMAGES"], attempt,
                                       fields, frames, student(fields["user_id"])))


def student(user_id):
    """The audit log's actor of an identity check: the student, through Moodle."""
    return {"actor_type": "moodle", "actor_id": str(user_id), "actor_name": ""}


@bp.get("/attempts/<attempt_id>/identity")
def get_identity(attempt_id):
    """How the attempt's identity stands: passed, its frozen reference, a teacher's decision, its latest photo."""
    db = get_db()
    return jsonify(decisions.state(db, attempts.load_attempt(db, positive_int(attempt_id, "attempt_id"))))


@bp.post("/attempts/<attempt_id>/identity/approve")
def approve_identity(attempt_id):
    """A teacher approves the identity photo of an attempt with no reference to match: it becomes its reference."""
    db, attempt, body = _decision_request(attempt_id)
    return jsonify(decisions.approve(db, current_app.config["PROCTORPY"], current_app.config["IMAGES"], attempt,
                                     body["camshot_id"], moodle_actor(body)))


@bp.post("/attempts/<attempt_id>/identity/refuse")
def refuse_identity(attempt_id):
    """A teacher refuses the identity photo of an attempt with no reference to match: its step stays closed."""
    db, attempt, body = _decision_request(attempt_id)
    return jsonify(decisions.refuse(db, attempt, body["camshot_id"], moodle_actor(body)))


def _decision_request(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    body = json_body()
    required(body, "camshot_id")
    db = get_db()
    return db, attempts.load_attempt(db, attempt_id), body
