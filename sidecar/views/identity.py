"""Signed analysis endpoints: a user's reference photo and the identity check of an attempt."""
from flask import Blueprint, current_app, jsonify, request

from .. import attempts, camshots
from ..analysis import identity, references
from ..validation import positive_int
from .auth import moodle_actor, require_signed_request
from .connections import get_db
from .requests import uploaded_image

bp = Blueprint("analysis_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)


@bp.put("/users/<user_id>/reference")
def put_reference(user_id):
    """Store a user's Moodle profile photo if it shows exactly one face; replace the earlier one."""
    user_id = positive_int(user_id, "user_id")
    data = uploaded_image()
    return jsonify(references.replace_profile_photo(get_db(), current_app.config["PROCTORPY"],
                                                    current_app.config["IMAGES"], user_id, data, moodle_actor()))


@bp.post("/attempts/<attempt_id>/identity")
def post_identity(attempt_id):
    """Store an identity photo as a camshot, analyse it now, and say whether the student may start."""
    fields = camshots.identity_fields(positive_int(attempt_id, "attempt_id"), request.form)
    data = uploaded_image()
    db = get_db()
    attempt = attempts.load_attempt(db, fields["attempt_id"], must_belong_to=fields["user_id"], status=409)
    return jsonify(identity.check(db, current_app.config["PROCTORPY"], current_app.config["IMAGES"], attempt, fields,
                                  data))
