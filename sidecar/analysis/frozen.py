"""The reference an attempt is judged against, frozen with it.

An attempt's reference is frozen when its first photo is judged (the plugin sends the profile photo
as the attempt starts, before any photo): a copy of the student's profile photo then, image and
encoding, owned by the attempt and purged, exported and kept with it, or none. A profile photo
uploaded later never changes what the attempt is judged against.
"""
import time

from .. import attempts, reference_changes, storage
from ..db import write_transaction
from . import references

FREEZE_TRIES = 3  # a profile photo replaced while it is copied is copied again


def freeze(db, config, images, attempt_id):
    """Freeze the attempt's reference if it is not yet: a copy of the user's profile photo now, or none."""
    for _ in range(FREEZE_TRIES):
        if _freeze_once(db, config, images, attempt_id):
            return


def _freeze_once(db, config, images, attempt_id):
    """One try of freeze(); False when the profile photo changed while it was copied."""
    state = attempts.identity_state(db, attempt_id)
    if state is None or state["reference_frozen_at"] is not None:
        return True
    attempt = attempts.find_attempt(db, attempt_id)
    profile = references.profile_photo(db, attempt["user_id"])
    copy = references.copy_image(images, attempt["user_id"], profile["path"]) if profile else None
    now = time.time()
    try:
        with write_transaction(db):
            # Checked again under the write lock: another worker may have frozen it, or the photo changed.
            if attempts.identity_state(db, attempt_id)["reference_frozen_at"] is not None:
                return True
            current = references.profile_photo(db, attempt["user_id"])
            if (current and current["id"]) != (profile and profile["id"]):
                return False
            photo_id = storage.new_id() if current else None
            if current:
                db.execute(
                    "INSERT INTO reference_photos (id, user_id, attempt_id, source, path, bytes, encoding, created_at, "
                    "changed_at, change_distance) VALUES (?, ?, ?, 'profile', ?, ?, ?, ?, ?, ?)",
                    [photo_id, attempt["user_id"], attempt_id, copy, current["bytes"], current["encoding"], now,
                     current["changed_at"], current["change_distance"]],
                )
                reference_changes.record_at_freeze(db, config, attempt, current, now)
            db.execute("UPDATE attempts SET reference_frozen_at = ?, reference_photo_id = ? WHERE id = ?",
                       [now, photo_id, attempt_id])
        return True
    finally:
        if copy is not None:
            references.remove_if_unused(db, images, copy)


def has_reference(db, attempt_id):
    """Whether the attempt's frozen reference is a usable photo."""
    state = attempts.identity_state(db, attempt_id)
    return state is not None and state["reference_photo_id"] is not None
