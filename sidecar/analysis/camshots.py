"""Analysing one camshot: read its stored image, judge its faces, record the verdict."""
import io
import json
import logging
import time

from PIL import Image, UnidentifiedImageError

from .. import attempts
from ..camshots import convert_original
from ..db import write_transaction
from . import frozen, queue, references
from .faces import Verdict, find_faces, verdict

log = logging.getLogger(__name__)


class Unreadable(Exception):
    "The stored image cannot be analysed, and another try would not change that"


def load_camshot(db, camshot_id):
    """What analysis needs of a camshot and its attempt, or None once it is purged."""
    row = db.execute(
        "SELECT c.id, c.attempt_id, c.kind, c.path, c.bytes, a.user_id, a.quiz_id "
        "FROM camshots c JOIN attempts a ON a.id = c.attempt_id WHERE c.id = ?",
        [camshot_id],
    ).fetchone()
    keys = ("id", "attempt_id", "kind", "path", "bytes", "user_id", "quiz_id")
    return dict(zip(keys, row)) if row else None


def read_image(images, relative):
    try:
        data = images.get(relative)
    except FileNotFoundError:
        raise Unreadable("The image file is missing; it may have been deleted.") from None
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise Unreadable("The image file is missing; it may have been deleted.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Unreadable(f"The stored image cannot be decoded ({error}).") from None


def judge(db, config, camshot, faces):
    """The verdict of these faces against the references this camshot is compared with.

    An identity camshot is compared with the reference frozen with the attempt only: it is what may
    become the attempt's own reference.
    """
    own = references.own_references(db, camshot["attempt_id"], frozen_only=camshot["kind"] == "identity")
    others = references.quiz_references(db, camshot["quiz_id"], camshot["user_id"])
    return verdict(faces, own, others, config["analysis.match_threshold"])


def analyse(db, config, images, camshot):
    """(verdict, faces) of a camshot; Unreadable when its image cannot be read."""
    faces = find_faces(read_image(images, camshot["path"]), config)
    return judge(db, config, camshot, faces), faces


def record(db, job, camshot, result, faces=None, error=None, identity_copy=None, now=None):
    """Write the verdict and finish the job in one transaction; False if the lease was lost.

    identity_copy: the file a passing identity camshot's reference is to own.
    """
    now = time.time() if now is None else now
    with write_transaction(db):
        if not queue.complete(db, job, now):
            return False
        db.execute(
            "UPDATE camshots SET status = ?, faces = ?, boxes = ?, distance = ?, matched_user_id = ?, "
            "analysed_at = ?, error = ? WHERE id = ?",
            [result.status, result.faces, json.dumps(result.boxes) if result.faces is not None else None,
             result.distance, result.matched_user_id, now, error, camshot["id"]],
        )
        if identity_copy is not None:
            references.add_identity_reference(db, camshot, identity_copy, faces.encodings[0], now)
    return True


def becomes_reference(db, camshot, result):
    """Whether a passing identity camshot becomes a reference of its attempt: not when its identity must match
    and there was nothing to match it with (then a teacher approves it, or not: analysis/decisions.py)."""
    if result.status != "ok":
        return False
    return result.distance is not None or attempts.find_attempt(
        db, camshot["attempt_id"])["settings"].get("identity_check") != "match"


def process(db, config, images, job):
    """Analyse a claimed job's camshot and record it; the verdict, or None if nothing was recorded."""
    camshot = load_camshot(db, job.camshot_id)
    if camshot is None:
        return None
    frozen.freeze(db, config, images, camshot["attempt_id"])
    convert_original(db, images, camshot["id"], camshot["path"])
    try:
        result, faces = analyse(db, config, images, camshot)
        error = None
    except Unreadable as problem:
        result, faces, error = Verdict("unreadable", None, [], None, None), None, str(problem)
    identity_copy = None
    if camshot["kind"] == "identity" and becomes_reference(db, camshot, result):
        identity_copy = references.copy_identity_photo(images, camshot)
    try:
        recorded = record(db, job, camshot, result, faces, error, identity_copy)
    finally:
        if identity_copy is not None:
            references.remove_if_unused(db, images, identity_copy)
    if not recorded:
        log.warning("job %s: lease lost before the verdict was written; another worker has it", job.id)
        return None
    recompute_score(db, config, camshot["attempt_id"])
    return result


def recompute_score(db, config, attempt_id):
    """Bring the attempt's score up to date with its newest verdict.

    The verdict is already committed; a scoring failure is logged and left to the next
    verdict or report to redo, never turned into a failed analysis.
    """
    try:
        attempts.recompute_score(db, config, attempt_id)
    except Exception:
        log.exception("scoring attempt %s failed after its camshot was analysed", attempt_id)
