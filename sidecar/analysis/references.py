"""Reference photos: the Moodle profile photo of a user and the identity photo of an attempt.

Only their encodings are used for matching; the images are kept for the reviewer.
"""
import time

import numpy as np

from .. import attempts, audit, reference_changes, storage
from ..db import write_transaction
from ..errors import Unavailable, Unprocessable
from ..images import decode_upload, encode_png, fit_width
from .faces import ENCODING_SIZE, ModelsUnavailable, encoding_blob, encoding_from_blob, find_faces


def _matrix(blobs):
    if not blobs:
        return np.empty((0, ENCODING_SIZE))
    return np.stack([encoding_from_blob(b) for b in blobs])


def own_references(db, attempt_id, frozen_only=False):
    """(n, 128) encodings a camshot of this attempt is compared with: the reference frozen with the attempt,
    and (unless frozen_only) the identity photos that passed. A profile photo uploaded since changes nothing."""
    if frozen_only:
        sql = ("SELECT encoding FROM reference_photos WHERE encoding IS NOT NULL AND id = "
               "(SELECT reference_photo_id FROM attempts WHERE id = ?)")
    else:
        sql = "SELECT encoding FROM reference_photos WHERE encoding IS NOT NULL AND attempt_id = ?"
    return _matrix([row[0] for row in db.execute(sql, [attempt_id])])


def quiz_references(db, quiz_id, user_id):
    """(user ids, (m, 128) encodings) of the other students with an attempt at this quiz: their profile photos
    and their attempts' references."""
    rows = db.execute(
        "SELECT user_id, encoding FROM reference_photos WHERE encoding IS NOT NULL AND user_id != :user AND ("
        "(source = 'profile' AND attempt_id IS NULL "
        "AND user_id IN (SELECT user_id FROM attempts WHERE quiz_id = :quiz)) "
        "OR attempt_id IN (SELECT id FROM attempts WHERE quiz_id = :quiz))",
        {"user": user_id, "quiz": quiz_id},
    ).fetchall()
    return [row[0] for row in rows], _matrix([row[1] for row in rows])


def attempt_photo_rows(db, user_id, attempt_id):
    """(id, source, path, created_at, attempt_id) of the reference photos an attempt's report shows: the
    attempt's own (the reference frozen with it, its identity photos) and the user's profile photo today."""
    return db.execute(
        "SELECT id, source, path, created_at, attempt_id FROM reference_photos "
        "WHERE (source = 'profile' AND user_id = ? AND attempt_id IS NULL) OR attempt_id = ? "
        "ORDER BY source DESC, created_at DESC",
        [user_id, attempt_id],
    ).fetchall()


def attempt_photos(db, user_id, attempt_id):
    """An attempt's reference photos as its JSON lists them, each with its role (judged_against, profile_today,
    identity): no storage path leaves the sidecar."""
    frozen = db.execute("SELECT reference_photo_id FROM attempts WHERE id = ?", [attempt_id]).fetchone()
    return [{"id": row[0], "source": row[1], "created_at": row[3], "role": photo_role(row, frozen and frozen[0])}
            for row in attempt_photo_rows(db, user_id, attempt_id)]


def photo_role(row, frozen_id):
    """What a row of attempt_photo_rows is to its attempt."""
    if row[0] == frozen_id:
        return "judged_against"
    return "profile_today" if row[4] is None else "identity"


def profile_photo(db, user_id, lock=False):
    """The user's profile photo today (id, path, bytes, encoding, changed_at, change_distance), or None.

    lock: hold its row's lock to the commit (inside a write transaction), so it is not replaced meanwhile.
    """
    row = db.execute(
        "SELECT id, path, bytes, encoding, changed_at, change_distance FROM reference_photos "
        "WHERE user_id = ? AND source = 'profile' AND attempt_id IS NULL" + (db.lock_rows if lock else ""),
        [user_id]).fetchone()
    return dict(zip(("id", "path", "bytes", "encoding", "changed_at", "change_distance"), row)) if row else None


def replace_profile_photo(db, config, images, user_id, data, actor, changed_at=None):
    """Keep an uploaded Moodle profile photo as the user's reference if it shows exactly one face, in place of
    the earlier one; the answer of PUT /api/v1/users/<id>/reference.

    changed_at: when it became the user's picture (Moodle says; else now). A photo with another face than the
    earlier one is a change, recorded as a problem of the user's attempts that are running.
    """
    images.check_free_space(config["storage.min_free_bytes"])
    image = fit_width(decode_upload(data, config), config["storage.max_width"])
    try:
        faces = find_faces(image, config)
    except ModelsUnavailable as error:
        raise Unavailable(f"Face analysis is not available: {error}.", code="models_unavailable") from None
    if not faces.boxes:
        raise Unprocessable("No face was found in the reference photo; upload a photo of the user's face.",
                            code="no_face")
    if len(faces.boxes) > 1:
        raise Unprocessable(f"{len(faces.boxes)} faces were found in the reference photo; it must show the user "
                            "alone.", code="multiple_faces")
    png = encode_png(image, config["storage.png_compress_level"])
    now = time.time()
    photo = store_profile_photo(db, images, user_id, png, faces.encodings[0], now if changed_at is None else changed_at,
                                lambda photo: record_change(db, config, user_id, photo, now))
    details = [f"replaced {photo['replaced']} earlier profile photo(s), {photo['freed']} bytes"] if photo["replaced"] else []
    if photo["changed"]:
        details.append(f"face distance to the earlier one {photo['change_distance']:.3f}")
    audit.record(db, "reference_upload", actor, {"user_id": user_id}, count=1, bytes=len(png), detail="; ".join(details))
    return {"faces": 1, "id": photo["id"], "user_id": user_id, "bytes": len(png), "box": list(faces.boxes[0]),
            "replaced": photo["replaced"], "change_distance": photo["change_distance"] if photo["changed"] else None}


def record_change(db, config, user_id, photo, now):
    """A changed profile photo is a problem of the user's running attempts, whose scores then flag them."""
    for attempt_id in reference_changes.record_during_attempts(db, config, user_id, photo, now):
        attempts.recompute_score(db, config, attempt_id)


def store_profile_photo(db, images, user_id, png, encoding, changed_at, on_change=None):
    """Keep this profile photo, drop the user's earlier one; a dict of the new photo (id, changed_at,
    change_distance, whether it changed the face on record) with the photos replaced and the bytes freed.

    The same face again (distance 0: Moodle sends the same picture at each attempt) keeps the change on
    record; another one is a change, whose face distance to the earlier photo is kept with the new one.
    on_change(photo) runs inside the write transaction when the photo is a change.
    The image is durable before its row is committed; the earlier images are removed only
    after the new row is, so a crash leaves at worst an image that storage.repair() removes.
    """
    photo_id = storage.new_id()
    relative = storage.reference_path(user_id, photo_id).as_posix()
    images.put(relative, png)
    now = time.time()
    try:
        with write_transaction(db):
            db.execute("INSERT INTO users (id, updated_at) VALUES (?, ?) ON CONFLICT(id) DO NOTHING", [user_id, now])
            earlier = profile_photo(db, user_id)
            photo = {"id": photo_id, "changed_at": changed_at, "change_distance": None, "changed": False}
            if earlier is not None and earlier["encoding"] is not None:
                distance = float(np.linalg.norm(encoding_from_blob(earlier["encoding"]) - encoding))
                if distance > 0:
                    photo.update(change_distance=distance, changed=True)
                else:
                    photo.update(changed_at=earlier["changed_at"] or changed_at,
                                 change_distance=earlier["change_distance"])
            db.execute("DELETE FROM reference_photos WHERE user_id = ? AND source = 'profile' AND attempt_id IS NULL",
                       [user_id])
            db.execute(
                "INSERT INTO reference_photos (id, user_id, attempt_id, source, path, bytes, encoding, created_at, "
                "changed_at, change_distance) VALUES (?, ?, NULL, 'profile', ?, ?, ?, ?, ?, ?)",
                [photo_id, user_id, relative, len(png), encoding_blob(encoding), now, photo["changed_at"],
                 photo["change_distance"]],
            )
            if photo["changed"] and on_change is not None:
                on_change(photo)
    except BaseException:
        images.discard(relative)
        raise
    # The new row is committed: an earlier image the store fails to delete is an orphan for repair(), not
    # a refusal of the new photo. Bytes are counted from the rows, as purges count them.
    if earlier is not None:
        images.discard(earlier["path"])
    return {**photo, "replaced": int(earlier is not None), "freed": earlier["bytes"] if earlier else 0}


def copy_image(images, user_id, relative):
    """A durable copy of a stored image for a reference row to own; its key.

    Each reference owns its own image, so purges, exports and backups count each image once per row,
    and replacing a profile photo never takes away an attempt's frozen copy.
    """
    copy = storage.reference_path(user_id, storage.new_id()).as_posix()
    images.put(copy, images.get(relative))
    return copy


def copy_identity_photo(images, camshot):
    """A durable copy of an identity camshot's image for the reference it becomes; its key.

    The reference owns its own image, as a profile photo does, so purges, exports and backups
    count each image once per row.
    """
    return copy_image(images, camshot["user_id"], camshot["path"])


def add_identity_reference(db, camshot, relative, encoding, now):
    """Make a passing identity camshot a reference of its attempt (inside the verdict's transaction).

    The reference takes the camshot's id, so it is added once however often the job runs.
    """
    db.execute(
        "INSERT INTO reference_photos (id, user_id, attempt_id, source, path, bytes, encoding, "
        "created_at) VALUES (?, ?, ?, 'identity', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [camshot["id"], camshot["user_id"], camshot["attempt_id"], relative, camshot["bytes"],
         encoding_blob(encoding), now],
    )


def remove_if_unused(db, images, relative):
    """Delete a reference image no row names (its verdict was not recorded, or came twice)."""
    if db.execute("SELECT 1 FROM reference_photos WHERE path = ?", [relative]).fetchone() is None:
        images.discard(relative)
