"""Analysing one camshot: read its stored image, judge its faces, record the verdict."""
import io
import json
import logging
import time

from PIL import Image, UnidentifiedImageError

from .. import attempts
from ..camshots import discard_if_purged, forget_original, write_png
from ..db import write_transaction
from . import frozen, queue, references
from .faces import Verdict, changed_outside, find_faces, verdict

log = logging.getLogger(__name__)

FULL_FRAME_EVERY = 20  # every twentieth camshot of an attempt is searched whole, tracked or not


class Burst:
    """What the camshots of one attempt claimed together share, so each does not look it up again: the
    references they are compared with, the camshot analysed last (its taken_at, image and face boxes), and the
    attempts whose score is to be brought up to date once the burst is done."""

    def __init__(self):
        self.references = {}
        self.latest = {}
        self.to_score = set()


class Unreadable(Exception):
    "The stored image cannot be analysed, and another try would not change that"


def load_camshot(db, camshot_id):
    """What analysis needs of a camshot and its attempt, or None once it is purged."""
    row = db.execute(
        "SELECT c.id, c.attempt_id, c.kind, c.path, c.bytes, c.taken_at, a.user_id, a.quiz_id "
        "FROM camshots c JOIN attempts a ON a.id = c.attempt_id WHERE c.id = ?",
        [camshot_id],
    ).fetchone()
    keys = ("id", "attempt_id", "kind", "path", "bytes", "taken_at", "user_id", "quiz_id")
    return dict(zip(keys, row)) if row else None


def read_image(images, relative):
    try:
        data = images.get(relative)
    except FileNotFoundError:
        raise Unreadable("The image file is missing; it may have been deleted.") from None
    return decode_stored(data)


def decode_stored(data):
    """The RGB image of a stored PNG; Unreadable when it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise Unreadable("The image file is missing; it may have been deleted.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Unreadable(f"The stored image cannot be decoded ({error}).") from None


def judge(db, config, camshot, faces, burst=None):
    """The verdict of these faces against the references this camshot is compared with.

    An identity camshot is compared with the reference frozen with the attempt only: it is what may
    become the attempt's own reference.
    """
    burst = burst or Burst()
    key = (camshot["attempt_id"], camshot["kind"])
    if key not in burst.references:
        burst.references[key] = (
            references.own_references(db, camshot["attempt_id"], frozen_only=camshot["kind"] == "identity"),
            references.quiz_references(db, camshot["quiz_id"], camshot["user_id"]))
    own, others = burst.references[key]
    return verdict(faces, own, others, config["analysis.match_threshold"])


def analyse(db, config, images, camshot, burst=None, pixels=None):
    """(verdict, faces) of a camshot; Unreadable when its image cannot be read.

    pixels: the RGB image of the camshot's stored PNG when the caller has just written it, so it is not read
    back from the store.
    """
    burst = burst or Burst()
    image = read_image(images, camshot["path"]) if pixels is None else pixels
    faces = find_faces(image, config, tracked_face(db, images, camshot, image, burst))
    if camshot["kind"] == "attempt":
        burst.latest[camshot["attempt_id"]] = (camshot["taken_at"], image, faces.boxes)
    return judge(db, config, camshot, faces, burst), faces


def tracked_face(db, images, camshot, image, burst):
    """The box of the face this camshot's attempt showed in the camshot analysed last before it, to be looked for
    there first; None when the whole frame is to be searched.

    A second face coming in is not hidden by it: tracking goes on only while the camshot before showed exactly
    one face, nothing face-sized changed elsewhere in the frame since (faces.changed_outside), and the region
    shows exactly one face (faces.locate_faces); each FULL_FRAME_EVERY-th camshot is searched whole anyway,
    which bounds what a change too slow to see from one camshot to the next could hide.
    The camshot before is the one this burst analysed last, or the database's: workers on any host agree.
    """
    if camshot["kind"] != "attempt":
        return None  # an identity photo decides the attempt's reference: always searched whole
    ordinal = db.execute("SELECT count(*) FROM camshots WHERE attempt_id = ? AND taken_at < ?",
                         [camshot["attempt_id"], camshot["taken_at"]]).fetchone()[0]
    if ordinal % FULL_FRAME_EVERY == 0:
        return None
    before = burst.latest.get(camshot["attempt_id"])
    if before is None or before[0] >= camshot["taken_at"]:
        before = _analysed_before(db, images, camshot)
    if before is None or len(before[2]) != 1 or changed_outside(before[1], image, before[2][0]):
        return None
    return tuple(before[2][0])


def _analysed_before(db, images, camshot):
    """(taken_at, image, boxes) of the attempt's camshot analysed last before this one, or None."""
    row = db.execute(
        "SELECT taken_at, path, boxes FROM camshots WHERE attempt_id = ? AND taken_at < ? AND analysed_at IS NOT NULL "
        "ORDER BY taken_at DESC LIMIT 1",
        [camshot["attempt_id"], camshot["taken_at"]],
    ).fetchone()
    if row is None or row[2] is None or len(json.loads(row[2])) != 1:
        return None
    try:
        return row[0], read_image(images, row[1]), json.loads(row[2])
    except Unreadable:
        return None


def record(db, job, camshot, result, faces=None, error=None, identity_copy=None, now=None, png=None):
    """Write the verdict and finish the job in one transaction; False if the lease was lost.

    identity_copy: the file a passing identity camshot's reference is to own.
    png: the PNG just written from the camshot's original (write_png): the original goes in the same
    transaction, so that a camshot's analysis commits once. If the lease was lost, the original stays for the
    worker that has the job now, which writes the same bytes.
    """
    now = time.time() if now is None else now
    # Without the database-wide lock: the job's guarded UPDATE (queue.complete) lets one claim through, and
    # only that one writes the camshot's verdict; its identity reference's key is the camshot's id.
    with write_transaction(db, exclusive=False):
        if not queue.complete(db, job, now):
            return False
        db.execute(
            "UPDATE camshots SET status = ?, faces = ?, boxes = ?, distance = ?, matched_user_id = ?, "
            "analysed_at = ?, error = ? WHERE id = ?",
            [result.status, result.faces, json.dumps(result.boxes) if result.faces is not None else None,
             result.distance, result.matched_user_id, now, error, camshot["id"]],
        )
        if png is not None:
            forget_original(db, camshot["id"], png)
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


def process(db, config, images, job, burst=None):
    """Analyse a claimed job's camshot and record it; the verdict, or None if nothing was recorded.

    burst: what this job shares with the other jobs of its attempt claimed with it. Then the attempt's score is
    left for the burst's end (see Burst.to_score); without, it is brought up to date at once.
    """
    camshot = load_camshot(db, job.camshot_id)
    if camshot is None:
        return None
    frozen.freeze(db, config, images, camshot["attempt_id"])
    written = write_png(db, images, camshot["id"], camshot["path"])
    try:
        result, faces = analyse(db, config, images, camshot, burst, written.pixels if written else None)
        error = None
    except Unreadable as problem:
        result, faces, error = Verdict("unreadable", None, [], None, None), None, str(problem)
    identity_copy = None
    if camshot["kind"] == "identity" and becomes_reference(db, camshot, result):
        identity_copy = references.copy_identity_photo(images, camshot)
    try:
        recorded = record(db, job, camshot, result, faces, error, identity_copy, png=written.png if written else None)
    finally:
        if identity_copy is not None:
            references.remove_if_unused(db, images, identity_copy)
        if written is not None:
            discard_if_purged(db, images, camshot["id"], camshot["path"])
    if not recorded:
        log.warning("job %s: lease lost before the verdict was written; another worker has it", job.id)
        return None
    if burst is None:
        recompute_score(db, config, camshot["attempt_id"])
    else:
        burst.to_score.add(camshot["attempt_id"])
        if identity_copy is not None:
            burst.references.clear()  # the attempt has a new reference
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
