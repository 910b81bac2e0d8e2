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
        # Without the database-wide lock: the profile photo's row, then the attempt's, are locked before they
        # are checked again (another worker may have frozen it, or the photo changed), so two freezes of one
        # attempt take turns, and a new profile photo (which deletes the row) waits for the freeze to commit,
        # then sees the attempt frozen. Both lock the photo before the attempt: neither waits for the other.
        with write_transaction(db, exclusive=False):
            current = references.profile_photo(db, attempt["user_id"], lock=True)
            attempts.find_attempt(db, attempt_id, lock=True)
            if attempts.identity_state(db, attempt_id)["reference_frozen_at"] is not None:
                return True
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
