"""The signed capture API Moodle calls: attempts, camshots, events, images."""
import time

from flask import Blueprint, current_app, jsonify, request

from .. import attempts, audit
from ..analysis import references
from ..errors import BadRequest
from ..openapi import document
from ..validation import positive_int
from .auth import moodle_actor, require_signed_request
from .connections import get_db
from . import uploads
from .requests import image_response, json_body

bp = Blueprint("capture_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)


@bp.get("/ping")
def ping():
    """A signed no-op, so Moodle's Test connection proves the secret and the clock."""
    return jsonify(ok=True, time=int(time.time()), api="v1")


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(current_app.config["VERSION"]))


@bp.put("/attempts/<attempt_id>")
def put_attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    attempt, created = attempts.register(get_db(), current_app.config["PROCTORPY"], attempt_id, json_body())
    return jsonify(attempt), 201 if created else 200


@bp.post("/attempts/<attempt_id>/finish")
def finish_attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    return jsonify(attempts.finish(get_db(), current_app.config["PROCTORPY"], attempt_id, json_body()))


def moodle_attempt(db, attempt_id, user_id):
    """The attempt a signed upload names: the signature vouches for Moodle, which names the attempt's own user."""
    return attempts.load_attempt(db, attempt_id, must_belong_to=user_id, status=409)


@bp.post("/camshots")
def post_camshot():
    return uploads.camshot(moodle_attempt)


@bp.post("/events")
def post_event():
    return uploads.event(moodle_attempt)


@bp.get("/attempts/<attempt_id>")
def get_attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    view = request.args.get("view")
    if view not in (None, "report"):
        raise BadRequest("view must be report (a person reads the attempt) or absent.", code="invalid_field")
    db = get_db()
    detail = attempts.attempt_detail(db, attempt_id)
    # Moodle's image proxy serves only the images listed here, and the report shows these too.
    detail["references"] = references.attempt_photos(db, detail["attempt"]["user_id"], attempt_id)
    if view == "report":
        # Moodle's web service hands the attempt to a person: audited as the report page is.
        audit.record(db, "report_view", moodle_actor(), audit.attempt_selection(detail["attempt"]),
                     count=len(detail["shots"]), detail="web service")
    return jsonify(detail)


@bp.get("/camshots/<camshot_id>/image")
def get_camshot_image(camshot_id):
    return image_response(get_db(), camshot_id, moodle_actor())
