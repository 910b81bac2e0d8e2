"""Reference photos: the Moodle profile photo of a user and the identity photo of an attempt.

Only their encodings are used for matching; the images are kept for the reviewer.
"""
import time

import numpy as np

from .. import audit, storage
from ..db import write_transaction
from ..errors import Unavailable, Unprocessable
from ..images import decode_upload, encode_png, fit_width
from .faces import ENCODING_SIZE, ModelsUnavailable, encoding_blob, encoding_from_blob, find_faces


def _matrix(blobs):
    if not blobs:
        return np.empty((0, ENCODING_SIZE))
    return np.stack([encoding_from_blob(b) for b in blobs])


def own_references(db, user_id, attempt_id, profile_only=False, exclude_id=None):
    """(n, 128) encodings a camshot of this user and attempt is compared with."""
    sql = ("SELECT encoding FROM reference_photos WHERE encoding IS NOT NULL AND user_id = ? "
           "AND (source = 'profile'" + ("" if profile_only else " OR attempt_id = ?") + ") AND id != ?")
    params = [user_id] + ([] if profile_only else [attempt_id]) + [exclude_id or ""]
    return _matrix([row[0] for row in db.execute(sql, params)])


def quiz_references(db, quiz_id, user_id):
    """(user ids, (m, 128) encodings) of the other students with an attempt at this quiz."""
    rows = db.execute(
        "SELECT user_id, encoding FROM reference_photos WHERE encoding IS NOT NULL AND user_id != :user AND ("
        "(source = 'profile' AND user_id IN (SELECT user_id FROM attempts WHERE quiz_id = :quiz)) "
        "OR attempt_id IN (SELECT id FROM attempts WHERE quiz_id = :quiz))",
        {"user": user_id, "quiz": quiz_id},
    ).fetchall()
    return [row[0] for row in rows], _matrix([row[1] for row in rows])


def attempt_photo_rows(db, user_id, attempt_id):
    """(id, source, path, created_at) of the reference photos an attempt's report shows: the user's profile
    photo and the attempt's identity photo."""
    return db.execute(
        "SELECT id, source, path, created_at FROM reference_photos "
        "WHERE (source = 'profile' AND user_id = ?) OR (source = 'identity' AND attempt_id = ?) "
        "ORDER BY source DESC, created_at DESC",
        [user_id, attempt_id],
    ).fetchall()


def attempt_photos(db, user_id, attempt_id):
    """An attempt's reference photos as its JSON lists them: no storage path leaves the sidecar."""
    return [{"id": row[0], "source": row[1], "created_at": row[3]}
            for row in attempt_photo_rows(db, user_id, attempt_id)]


def has_profile_photo(db, user_id):
    return db.execute(
        "SELECT 1 FROM reference_photos WHERE user_id = ? AND source = 'profile'", [user_id]
    ).fetchone() is not None


def replace_profile_photo(db, config, images, user_id, data, actor):
    """Keep an uploaded Moodle profile photo as the user's reference if it shows exactly one face, in place of
    the earlier one; the answer of PUT /api/v1/users/<id>/reference."""
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
    photo_id, replaced, freed = store_profile_photo(db, images, user_id, png, faces.encodings[0])
    audit.record(db, "reference_upload", actor, {"user_id": user_id}, count=1, bytes=len(png),
                 detail=f"replaced {replaced} earlier profile photo(s), {freed} bytes" if replaced else "")
    return {"faces": 1, "id": photo_id, "user_id": user_id, "bytes": len(png), "box": list(faces.boxes[0]),
            "replaced": replaced}


def store_profile_photo(db, images, user_id, png, encoding):
    """Keep this profile photo, drop the user's earlier ones; return (id, photos replaced, bytes freed).

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
            earlier = db.execute(
                "SELECT path, bytes FROM reference_photos WHERE user_id = ? AND source = 'profile'", [user_id]
            ).fetchall()
            db.execute("DELETE FROM reference_photos WHERE user_id = ? AND source = 'profile'", [user_id])
            db.execute(
                "INSERT INTO reference_photos (id, user_id, attempt_id, source, path, bytes, encoding, created_at) "
                "VALUES (?, ?, NULL, 'profile', ?, ?, ?, ?)",
                [photo_id, user_id, relative, len(png), encoding_blob(encoding), now],
            )
    except BaseException:
        images.discard(relative)
        raise
    # The new row is committed: an earlier image the store fails to delete is an orphan for repair(), not
    # a refusal of the new photo. Bytes are counted from the rows, as purges count them.
    for path, _ in earlier:
        images.discard(path)
    return photo_id, len(earlier), sum(size or 0 for _, size in earlier)


def copy_identity_photo(images, camshot):
    """A durable copy of an identity camshot's image for the reference it becomes; its key.

    The reference owns its own image, as a profile photo does, so purges, exports and backups
    count each image once per row.
    """
    relative = storage.reference_path(camshot["user_id"], storage.new_id()).as_posix()
    images.put(relative, images.get(camshot["path"]))
    return relative


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
