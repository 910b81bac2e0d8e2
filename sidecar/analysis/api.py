"""Signed analysis endpoints: a user's reference photo and the identity check of an attempt."""
import logging
import os
import time

from flask import Blueprint, current_app, jsonify, request

from .. import allowances, attempts, audit, camshots
from ..auth import moodle_actor, require_signed_request
from ..db import get_db
from ..errors import Conflict, ImageStoreUnavailable, Unavailable, Unprocessable
from ..images import decode_upload, encode_png, fit_width
from ..validation import positive_int, required, token
from ..web import uploaded_image
from . import queue, references
from . import camshots as camshot_analysis
from .faces import ModelsUnavailable, find_faces

bp = Blueprint("analysis_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)

log = logging.getLogger(__name__)

WORKER_WAIT_SECONDS = 3  # a worker that took the identity photo first analyses it in a fraction of that

IDENTITY_MESSAGES = {
    "none": "Your photo was taken.",
    "no_face": "No face was found in the photo. Sit facing the camera in good light, then try again.",
    "multiple_faces": "More than one face was found in the photo. Make sure only you are in front of the "
                      "camera, then try again.",
    "mismatch": "Your face does not match your profile photo. Face the camera in good light and try again; "
                "if it keeps failing, ask your teacher.",
    "unreadable": "The photo could not be read. Please try again.",
    "face": "Your face was found.",
    "match": "Your face matches your profile photo.",
    "no_profile": "Your face was found. There is no profile photo to compare it with, so it was not matched.",
}


def faces_of(image, config):
    try:
        return find_faces(image, config)
    except ModelsUnavailable as error:
        raise Unavailable(f"Face analysis is not available: {error}.", code="models_unavailable") from None


@bp.put("/users/<user_id>/reference")
def put_reference(user_id):
    """Store a user's Moodle profile photo if it shows exactly one face; replace the earlier one."""
    user_id = positive_int(user_id, "user_id")
    config = current_app.config["PROCTORPY"]
    images = current_app.config["IMAGES"]
    data = uploaded_image()
    images.check_free_space(config["storage.min_free_bytes"])
    image = fit_width(decode_upload(data, config), config["storage.max_width"])
    faces = faces_of(image, config)
    if not faces.boxes:
        raise Unprocessable("No face was found in the reference photo; upload a photo of the user's face.",
                            code="no_face")
    if len(faces.boxes) > 1:
        raise Unprocessable(f"{len(faces.boxes)} faces were found in the reference photo; it must show the user "
                            "alone.", code="multiple_faces")
    png = encode_png(image, config["storage.png_compress_level"])
    db = get_db()
    photo_id, replaced, freed = references.store_profile_photo(
        db, images, user_id, png, faces.encodings[0])
    audit.record(db, "reference_upload", moodle_actor(), {"user_id": user_id}, count=1, bytes=len(png),
                 detail=f"replaced {replaced} earlier profile photo(s), {freed} bytes" if replaced else "")
    return jsonify(faces=1, id=photo_id, user_id=user_id, bytes=len(png), box=list(faces.boxes[0]),
                   replaced=replaced)


@bp.post("/attempts/<attempt_id>/identity")
def post_identity(attempt_id):
    """Store an identity photo as a camshot, analyse it now, and say whether the student may start."""
    attempt_id = positive_int(attempt_id, "attempt_id")
    form = request.form
    required(form, "user_id", "taken_at", "client_shot_id")
    fields = {
        "attempt_id": attempt_id,
        "user_id": positive_int(form["user_id"], "user_id"),
        "taken_at": positive_int(form["taken_at"], "taken_at"),
        "client_shot_id": token(form["client_shot_id"], "client_shot_id"),
        "kind": "identity",
    }
    data = uploaded_image()
    db = get_db()
    attempt = attempts.load_attempt(db, attempt_id, must_belong_to=fields["user_id"], status=409)
    existing = camshots.find_by_client_id(db, attempt_id, fields["client_shot_id"])
    if not existing:
        refuse_outside_identity_step(db, attempt)
        # Each one is analysed in this request: the attempt's allowance bounds the CPU as well as the disk.
        allowances.spend(db, current_app.config["PROCTORPY"], attempt_id, "camshots", time.time())
    stored = existing or camshots.store(db, current_app.config["PROCTORPY"], current_app.config["IMAGES"], attempt,
                                        fields, data)
    analyse_now(db, stored["id"])
    answer = identity_answer(db, attempt, stored["id"])
    if answer["passed"]:
        attempts.record_identity_pass(db, attempt_id, time.time())
    return jsonify(answer)


def refuse_outside_identity_step(db, attempt):
    """The identity step lasts from the start of the attempt until its first passing check."""
    if attempt["finished_at"] is not None:
        raise Conflict(f"Attempt {attempt['id']} is finished; its identity can no longer be checked.",
                       code="attempt_finished")
    if attempts.identity_passed_at(db, attempt["id"]) is not None:
        raise Conflict(f"The identity check of attempt {attempt['id']} has already passed; camshots of the attempt "
                       "go to POST /api/v1/camshots.", code="identity_already_passed")


def analyse_now(db, camshot_id):
    """Analyse the camshot in this request unless a worker holds it (then its verdict follows)."""
    config = current_app.config["PROCTORPY"]
    job = queue.claim_camshot(db, camshot_id, f"identity:{os.getpid()}", config["analysis.lease_seconds"])
    if job is None:
        return
    try:
        camshot_analysis.process(db, config, current_app.config["IMAGES"], job)
    except ModelsUnavailable as error:
        queue.release(db, job, str(error), config["analysis.max_tries"])
        raise Unavailable(f"Face analysis is not available: {error}.", code="models_unavailable") from None
    except ImageStoreUnavailable as error:
        queue.put_back(db, job, str(error))
        raise
    except Exception as error:
        log.exception("identity photo %s could not be analysed", camshot_id)
        queue.release(db, job, f"{type(error).__name__}: {error}", config["analysis.max_tries"])
        raise Unavailable("The identity photo is stored but could not be analysed now; send it again.",
                          code="analysis_failed") from None


def wait_for_verdict(db, camshot_id, seconds):
    """The camshot's status once a worker has analysed it, waiting at most this long."""
    deadline = time.monotonic() + seconds
    while True:
        status = db.execute("SELECT status FROM camshots WHERE id = ?", [camshot_id]).fetchone()[0]
        if status != "pending" or time.monotonic() >= deadline:
            return status
        time.sleep(0.05)


def identity_answer(db, attempt, camshot_id):
    """The identity check's answer, from the camshot's verdict and the attempt's settings."""
    wait_for_verdict(db, camshot_id, WORKER_WAIT_SECONDS)
    status, faces, distance = db.execute(
        "SELECT status, faces, distance FROM camshots WHERE id = ?", [camshot_id]
    ).fetchone()
    if status == "pending":
        raise Unavailable("The identity photo is stored but still being analysed; send it again in a moment.",
                          code="analysis_pending")
    check = attempt["settings"].get("identity_check", "none")
    profile = references.has_profile_photo(db, attempt["user_id"])
    if check == "none":
        passed, message = True, IDENTITY_MESSAGES["none"]
    elif status in ("no_face", "multiple_faces", "unreadable"):
        passed, message = False, IDENTITY_MESSAGES[status]
    elif check == "face":
        passed, message = True, IDENTITY_MESSAGES["face"]
    elif not profile:
        passed, message = True, IDENTITY_MESSAGES["no_profile"]
    else:
        passed = status == "ok"
        message = IDENTITY_MESSAGES["match" if passed else "mismatch"]
    return {"id": camshot_id, "passed": passed, "faces": faces, "distance": distance,
            "reference": "profile" if profile else "none", "status": status, "message": message}
