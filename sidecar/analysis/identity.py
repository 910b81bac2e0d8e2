"""The identity step of an attempt: the student's photo before the quiz opens, analysed at once,
and whether they may start.

The step lasts from the start of the attempt until its first passing check. Each check answers a
liveness challenge (liveness.py): the frames the browser took while the student followed it are
checked in memory, and only the frame facing the camera is kept, as the identity photo: a camshot of
kind identity, ingested as every camshot is, then analysed in the request unless a worker holds it
already (its verdict is then awaited a moment). The other frames are never stored.
"""
import logging
import os
import time

from .. import attempts, audit, camshots, ingest
from ..db import write_transaction
from ..errors import Conflict, ImageStoreUnavailable, Unavailable
from ..images import decode_upload, fit_width
from . import frozen, liveness, queue
from . import camshots as camshot_analysis
from .faces import ModelsUnavailable

log = logging.getLogger(__name__)

WORKER_WAIT_SECONDS = 3  # a worker that took the identity photo first analyses it in a fraction of that

MESSAGES = {
    "none": "Your photo was taken.",
    "no_face": "No face was found in the photo. Sit facing the camera in good light, then try again.",
    "multiple_faces": "More than one face was found in the photo. Make sure only you are in front of the "
                      "camera, then try again.",
    "mismatch": "Your face does not match your profile photo. Face the camera in good light and try again; "
                "if it keeps failing, ask your teacher.",
    "unreadable": "The photo could not be read. Please try again.",
    "face": "Your face was found.",
    "match": "Your face matches your profile photo.",
    "no_reference": "Your face was found, but there is no usable profile photo to compare it with. Your teacher "
                    "can confirm your identity from this photo; ask them, then try again.",
}


def challenge(db, config, attempt):
    """A liveness challenge for the attempt's next identity check, while its identity step lasts."""
    refuse_outside_identity_step(db, attempt)
    return liveness.issue(db, config, attempt["id"], time.time())


def check_live(db, config, images, attempt, fields, frames, actor):
    """Check that the frames follow the attempt's challenge, then the face of the frame facing the camera;
    the answer, with how many refusals the student has left before the teacher must let them go on."""
    stored = camshots.find_by_client_id(db, attempt["id"], fields["client_shot_id"])
    if stored:  # a retry of a check whose photo was stored: answered again, its challenge is spent
        return with_refusals_left(db, config, attempt, conclude(db, config, images, attempt, stored["id"]))
    refuse_outside_identity_step(db, attempt)
    attempts.capture_time(attempt, fields["taken_at"], "taken_at", time.time())  # before the challenge is spent
    liveness.frame_count(len(frames))
    # Scaled down one by one as they are decoded: eight frames at the largest size accepted would hold 400 MB.
    pictures = [fit_width(decode_upload(data, config), config["storage.max_width"]) for data in frames]
    kind = liveness.take(db, config, attempt["id"], fields["challenge_id"], time.time())
    outcome = liveness.check(pictures, kind, liveness.reference_hashes(db, images, attempt["user_id"], config), config)
    if outcome.passed:
        answer = check(db, config, images, attempt, fields, frames[outcome.photo])
        reason = None if answer["passed"] else answer["status"]
    else:
        answer = {"id": None, "passed": False, "status": outcome.reason, "message": liveness.MESSAGES[outcome.reason]}
        reason = outcome.reason
    with write_transaction(db):
        liveness.record_outcome(db, fields["challenge_id"], answer["passed"], reason)
        audit.record(db, "identity_check", actor, audit.attempt_selection(attempt), count=len(frames),
                     detail=f"challenge {kind}: " + ("passed" if answer["passed"] else f"refused ({reason})"))
    return with_refusals_left(db, config, attempt, answer)


def with_refusals_left(db, config, attempt, answer):
    left = max(0, config["identity.max_refusals"] - liveness.refusals(db, attempt["id"]))
    return {**answer, "refusals_left": left}


def check(db, config, images, attempt, fields, data):
    """Store the identity photo, analyse it now and say whether the student may start; the first pass is recorded."""
    stored, _ = ingest.camshot(db, config, images, attempt, fields, data, admit=refuse_outside_identity_step)
    return conclude(db, config, images, attempt, stored["id"])


def conclude(db, config, images, attempt, camshot_id):
    """Analyse the stored identity photo now unless a worker holds it; its answer. The first pass is recorded."""
    analyse_now(db, config, images, camshot_id)
    answer = identity_answer(db, attempt, camshot_id)
    if answer["passed"]:
        attempts.record_identity_pass(db, attempt["id"], time.time())
    return answer


def refuse_outside_identity_step(db, attempt):
    """The identity step lasts from the start of the attempt until its first passing check.

    Each photo is analysed in its request: the attempt's upload allowance, spent after this, bounds
    the CPU as well as the disk.
    """
    if attempt["finished_at"] is not None:
        raise Conflict(f"Attempt {attempt['id']} is finished; its identity can no longer be checked.",
                       code="attempt_finished")
    state = attempts.identity_state(db, attempt["id"])
    if state["identity_decision"] == "refused":
        raise Conflict(f"A teacher refused the identity photo of attempt {attempt['id']}; it cannot go on.",
                       code="identity_refused")
    if state["identity_passed_at"] is not None:
        raise Conflict(f"The identity check of attempt {attempt['id']} has already passed; camshots of the attempt "
                       "go to POST /api/v1/camshots.", code="identity_already_passed")


def analyse_now(db, config, images, camshot_id):
    """Analyse the camshot in this request unless a worker holds it (then its verdict follows)."""
    job = queue.claim_camshot(db, camshot_id, f"identity:{os.getpid()}", config["analysis.lease_seconds"])
    if job is None:
        return
    try:
        camshot_analysis.process(db, config, images, job)
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
    """The camshot's verdict once a worker has analysed it, waiting at most this long (then still pending)."""
    deadline = time.monotonic() + seconds
    while True:
        verdict = camshots.verdict(db, camshot_id)
        if verdict["status"] != "pending" or time.monotonic() >= deadline:
            return verdict
        time.sleep(0.05)


def identity_answer(db, attempt, camshot_id):
    """The identity check's answer, from the camshot's verdict and the attempt's settings."""
    verdict = wait_for_verdict(db, camshot_id, WORKER_WAIT_SECONDS)
    status = verdict["status"]
    if status == "pending":
        raise Unavailable("The identity photo is stored but still being analysed; send it again in a moment.",
                          code="analysis_pending")
    check = attempt["settings"].get("identity_check", "none")
    profile = frozen.has_reference(db, attempt["id"])
    if check == "none":
        passed, message = True, MESSAGES["none"]
    elif status in ("no_face", "multiple_faces", "unreadable"):
        passed, message = False, MESSAGES[status]
    elif check == "face":
        passed, message = True, MESSAGES["face"]
    elif not profile:
        # No reference to match: the check fails closed until a teacher approves the photo.
        passed, message = False, MESSAGES["no_reference"]
    else:
        passed = status == "ok"
        message = MESSAGES["match" if passed else "mismatch"]
    return {"id": camshot_id, "passed": passed, "faces": verdict["faces"], "distance": verdict["distance"],
            "reference": "profile" if profile else "none", "status": status, "message": message}
