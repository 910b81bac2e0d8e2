"""A teacher's decision on an identity photo that had no reference to be matched with.

With no usable reference frozen with the attempt, a quiz whose identity must match fails the
identity check closed. The teacher sees the identity photo beside "no reference" and approves it
(it becomes the attempt's reference, and the student's if they have no profile photo, and the step
passes) or refuses it (the step stays closed). Both decisions are audited.
"""
import time

from .. import attempts, audit, reference_changes, storage
from ..db import write_transaction
from ..errors import BadRequest, Conflict, NotFound, Unavailable
from . import references
from .camshots import Unreadable, read_image
from .faces import ModelsUnavailable, encoding_blob, find_faces


def state(db, attempt):
    """The attempt's identity as Moodle asks for it: GET /api/v1/attempts/<id>/identity."""
    current = attempts.identity_state(db, attempt["id"])
    photo = db.execute(
        "SELECT id, status, faces, taken_at FROM camshots WHERE attempt_id = ? AND kind = 'identity' "
        "ORDER BY taken_at DESC, received_at DESC LIMIT 1", [attempt["id"]]).fetchone()
    if current["reference_frozen_at"] is None:
        reference = "not_frozen"
    else:
        reference = "frozen" if current["reference_photo_id"] else "none"
    return {
        "attempt_id": attempt["id"], "identity_check": attempt["settings"].get("identity_check", "none"),
        "passed": current["identity_passed_at"] is not None, "passed_at": current["identity_passed_at"],
        "reference": reference, "decision": current["identity_decision"],
        "decided_at": current["identity_decided_at"],
        "photo": dict(zip(("id", "status", "faces", "taken_at"), photo)) if photo else None,
        "problems": reference_changes.problems(db, attempt["id"]),
    }


def awaiting_decision(db, attempt):
    """Refuse a decision on an attempt that does not wait for one: its identity must match, it has no usable
    reference, its step is not over and no decision was made."""
    current = attempts.identity_state(db, attempt["id"])
    if attempt["settings"].get("identity_check") != "match":
        raise Conflict(f"Attempt {attempt['id']} does not match faces at its identity check; there is nothing to "
                       "decide.", code="no_decision_needed")
    if current["identity_decision"] is not None:
        raise Conflict(f"The identity photo of attempt {attempt['id']} was already {current['identity_decision']}.",
                       code="already_decided")
    if current["reference_photo_id"] is not None:
        raise Conflict(f"Attempt {attempt['id']} has a reference photo; its identity check matches against it.",
                       code="no_decision_needed")
    if current["identity_passed_at"] is not None or attempt["finished_at"] is not None:
        raise Conflict(f"The identity step of attempt {attempt['id']} is over.", code="identity_step_over")


def identity_photo(db, attempt_id, camshot_id):
    """The identity camshot of this attempt a teacher decides on; 404 for any other id."""
    if not isinstance(camshot_id, str) or not storage.ID_PATTERN.match(camshot_id):
        raise BadRequest("camshot_id is 20 lowercase hex characters: the id of the attempt's identity photo.",
                         code="invalid_field")
    row = db.execute(
        "SELECT id, path, bytes, status, faces FROM camshots WHERE id = ? AND attempt_id = ? AND kind = 'identity'",
        [camshot_id, attempt_id]).fetchone()
    if row is None:
        raise NotFound(f"Attempt {attempt_id} has no identity photo {camshot_id}.", code="unknown_camshot")
    return dict(zip(("id", "path", "bytes", "status", "faces"), row))


def approve(db, config, images, attempt, camshot_id, actor):
    """The teacher approves the identity photo: it becomes the attempt's reference (and the student's, if they
    have no profile photo) and the identity step passes."""
    awaiting_decision(db, attempt)
    photo = identity_photo(db, attempt["id"], camshot_id)
    if photo["status"] != "ok" or photo["faces"] != 1:
        raise Conflict(f"Identity photo {photo['id']} does not show exactly one face ({photo['status']}); only such a "
                       "photo can become a reference.", code="not_one_face")
    try:
        faces = find_faces(read_image(images, photo["path"]), config)
    except ModelsUnavailable as error:
        raise Unavailable(f"Face analysis is not available: {error}.", code="models_unavailable") from None
    except Unreadable as error:
        raise Conflict(f"Identity photo {photo['id']} cannot be read: {error}", code="unreadable") from None
    if len(faces.encodings) != 1:
        raise Conflict(f"Identity photo {photo['id']} does not show exactly one face.", code="not_one_face")
    copies = [references.copy_image(images, attempt["user_id"], photo["path"]) for _ in range(2)]
    now = time.time()
    try:
        with write_transaction(db):
            awaiting_decision(db, attempt)
            reference_id = storage.new_id()
            _insert_photo(db, reference_id, attempt["user_id"], attempt["id"], copies[0], photo["bytes"],
                          faces.encodings[0], now)
            if references.profile_photo(db, attempt["user_id"]) is None:
                _insert_photo(db, storage.new_id(), attempt["user_id"], None, copies[1], photo["bytes"],
                              faces.encodings[0], now)
            db.execute(
                "UPDATE attempts SET reference_frozen_at = coalesce(reference_frozen_at, ?), reference_photo_id = ?, "
                "identity_decision = 'approved', identity_decided_at = ?, "
                "identity_passed_at = coalesce(identity_passed_at, ?) WHERE id = ?",
                [now, reference_id, now, now, attempt["id"]])
            audit.record(db, "identity_approve", actor, audit.attempt_selection(attempt), count=1, bytes=photo["bytes"],
                         detail=f"identity photo {photo['id']} approved as the reference, no profile photo to match")
    finally:
        for copy in copies:
            references.remove_if_unused(db, images, copy)
    return state(db, attempt)


def refuse(db, attempt, camshot_id, actor):
    """The teacher refuses the identity photo: the attempt's identity step stays closed."""
    awaiting_decision(db, attempt)
    photo = identity_photo(db, attempt["id"], camshot_id)
    now = time.time()
    with write_transaction(db):
        awaiting_decision(db, attempt)
        db.execute("UPDATE attempts SET identity_decision = 'refused', identity_decided_at = ? WHERE id = ?",
                   [now, attempt["id"]])
        audit.record(db, "identity_refuse", actor, audit.attempt_selection(attempt), count=1,
                     detail=f"identity photo {photo['id']} refused, no profile photo to match")
    return state(db, attempt)


def _insert_photo(db, photo_id, user_id, attempt_id, relative, size, encoding, now):
    db.execute(
        "INSERT INTO reference_photos (id, user_id, attempt_id, source, path, bytes, encoding, created_at, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [photo_id, user_id, attempt_id, "identity" if attempt_id else "profile", relative, size,
         encoding_blob(encoding), now, now],
    )
