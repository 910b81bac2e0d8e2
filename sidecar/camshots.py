"""Camshots: the fields of an upload, durable storage of the image and its row, reading images back."""
import hashlib
import io
import time

from PIL import Image

from . import audit, storage
from .db import IntegrityError, write_transaction
from .errors import BadRequest, NotFound
from .images import decode_upload, encode_png, fit_width
from .validation import positive_int, required, token

# What the capture routes take: camshots of kind "attempt", taken during the quiz. The other kind
# stored, "identity", the photo of the identity check before the quiz opens, comes only through
# POST /api/v1/attempts/<id>/identity during the identity step: posted here it could become the
# attempt's reference at any time.
UPLOAD_KINDS = ("attempt",)
IMAGE_SIZES = ("full", "thumb")


def upload_fields(form):
    """The fields of a camshot upload (multipart form), checked: the same for the signed and the direct route."""
    required(form, "attempt_id", "user_id", "taken_at", "client_shot_id")
    fields = {
        "attempt_id": positive_int(form["attempt_id"], "attempt_id"),
        "user_id": positive_int(form["user_id"], "user_id"),
        "taken_at": positive_int(form["taken_at"], "taken_at"),
        "client_shot_id": token(form["client_shot_id"], "client_shot_id"),
        "kind": form.get("kind") or "attempt",
    }
    if fields["kind"] == "identity":
        raise BadRequest("An identity photo is taken only in the identity step, through "
                         f"POST /api/v1/attempts/{fields['attempt_id']}/identity.", code="identity_outside_check")
    if fields["kind"] not in UPLOAD_KINDS:
        raise BadRequest("kind must be " + " or ".join(UPLOAD_KINDS) + ".", code="invalid_field")
    return fields


def identity_fields(attempt_id, form):
    """The fields of an identity photo upload (multipart form) to the attempt's identity step, checked."""
    required(form, "user_id", "taken_at", "client_shot_id", "challenge_id")
    return {
        "challenge_id": token(form["challenge_id"], "challenge_id"),
        "attempt_id": attempt_id,
        "user_id": positive_int(form["user_id"], "user_id"),
        "taken_at": positive_int(form["taken_at"], "taken_at"),
        "client_shot_id": token(form["client_shot_id"], "client_shot_id"),
        "kind": "identity",
    }


def find_by_client_id(db, attempt_id, client_shot_id):
    """The camshot an earlier upload with this idempotency key stored, or None."""
    row = db.execute(
        "SELECT id, attempt_id, bytes FROM camshots WHERE attempt_id = ? AND client_shot_id = ?",
        [attempt_id, client_shot_id],
    ).fetchone()
    return {"id": row[0], "attempt_id": row[1], "bytes": row[2]} if row else None


def verdict(db, camshot_id):
    """The camshot's analysis so far: {status, faces, distance}; status pending until it is analysed."""
    status, faces, distance = db.execute(
        "SELECT status, faces, distance FROM camshots WHERE id = ?", [camshot_id]).fetchone()
    return {"status": status, "faces": faces, "distance": distance}


def stored_palette_colors(config):
    return config["storage.palette_colors"] if config["storage.format"] == "palette" else None


def store(db, config, images, attempt, fields, data):
    """Re-encode, store the image (a durable file, or an object in the bucket), then commit the row
    and its analysis job.

    Only after both are durable does the caller acknowledge. If the row cannot be
    committed the image is removed again, so nothing is left half-stored.
    """
    images.check_free_space(config["storage.min_free_bytes"])
    image = fit_width(decode_upload(data, config), config["storage.max_width"])
    png = encode_png(image, config["storage.png_compress_level"], stored_palette_colors(config))
    camshot_id = storage.new_id()
    relative = storage.camshot_path(attempt["course_id"], attempt["quiz_id"], attempt["id"], camshot_id)
    images.put(relative.as_posix(), png)
    now = time.time()
    try:
        # Safe beside other uploads without the database-wide write lock: the unique client_shot_id
        # settles a race, and every node stores camshots in parallel.
        with write_transaction(db, exclusive=False):
            db.execute(
                "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, "
                "width, height, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [camshot_id, attempt["id"], fields["client_shot_id"], fields["kind"], fields["taken_at"], now,
                 relative.as_posix(), len(png), image.width, image.height, hashlib.sha256(png).hexdigest()],
            )
            db.execute(
                "INSERT INTO jobs (camshot_id, created_at, updated_at) VALUES (?, ?, ?)", [camshot_id, now, now]
            )
    except IntegrityError:
        # The same client_shot_id raced in through another worker: keep its copy, not ours.
        images.discard(relative.as_posix())
        existing = find_by_client_id(db, attempt["id"], fields["client_shot_id"])
        if existing is None:
            raise
        return existing
    except BaseException:
        images.discard(relative.as_posix())
        raise
    return {"id": camshot_id, "attempt_id": attempt["id"], "bytes": len(png), "width": image.width,
            "height": image.height}


def image_file(db, images, camshot_id, size):
    """(PNG bytes, attempt id) of a camshot's or reference photo's stored image, to be sent at size
    (IMAGE_SIZES).

    Refuses a malformed id or size, an unknown id, and an image gone from the store.
    """
    if not storage.ID_PATTERN.match(camshot_id):
        raise BadRequest("A camshot id is 20 lowercase hex characters.", code="invalid_field")
    if size not in IMAGE_SIZES:
        raise BadRequest("size must be " + " or ".join(IMAGE_SIZES) + ".", code="invalid_field")
    row = db.execute("SELECT path, attempt_id FROM camshots WHERE id = ?", [camshot_id]).fetchone()
    if row is None:
        row = db.execute("SELECT path, attempt_id FROM reference_photos WHERE id = ?", [camshot_id]).fetchone()
    if row is None:
        raise NotFound(f"No camshot or reference photo {camshot_id}.")
    try:
        data = images.get(row[0])
    except FileNotFoundError:
        raise NotFound(f"The image file of {camshot_id} is missing; it may have been purged.",
                       code="image_missing") from None
    return data, row[1]


def viewed_image(db, images, camshot_id, size, thumb_width, actor, detail=""):
    """The PNG bytes of a camshot's or reference photo's image for a viewer: full size, its viewing audited,
    or a thumbnail thumb_width wide."""
    data, attempt_id = image_file(db, images, camshot_id, size)
    if size == "full":
        audit.record(db, "image_view", actor, {"camshot_id": camshot_id, "attempt_id": attempt_id}, count=1,
                     detail=detail)
        return data
    return thumbnail(data, thumb_width)


def thumbnail(data, width):
    """A stored image (PNG bytes) scaled down to width, as PNG bytes."""
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((width, 10_000))
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue()
