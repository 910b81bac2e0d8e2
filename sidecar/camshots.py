"""Camshots: the fields of an upload, durable storage of the image and its row, its conversion to PNG, reading
images back."""
import hashlib
import io
import time
from collections import namedtuple

from PIL import Image

from . import audit, storage
from .db import IntegrityError, write_transaction
from .errors import BadRequest, NotFound
from .images import check_upload, decode_original, decode_upload, encode_png, fit_width, fitted_size, quantized
from .validation import positive_int, required, token

# What the capture routes take: camshots of kind "attempt", taken during the quiz. The other kind
# stored, "identity", the photo of the identity check before the quiz opens, comes only through
# POST /api/v1/attempts/<id>/identity during the identity step: posted here it could become the
# attempt's reference at any time.
UPLOAD_KINDS = ("attempt",)
IMAGE_SIZES = ("full", "thumb")
# A camshot kept as received (camshot_originals): its bytes, and how its PNG is to be made from them.
Original = namedtuple("Original", "data max_width compress_level palette_colors")


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


def store(db, config, images, attempt, fields, data, pay=None):
    """Store a checked upload and commit its row and its analysis job.

    pay(db), when given, runs in the transaction of the rows (the attempt's upload allowance), so a camshot is
    paid for exactly when it is stored; last, so that what it locks is held only to the commit.

    A camshot of the quiz is kept as it was received, in its row's transaction (camshot_originals):
    the analysis worker, which decodes it anyway, writes its PNG (write_png). An identity photo
    is judged while the student waits, so its PNG is written to the image store at once. Only after
    everything is durable does the caller acknowledge; if the row cannot be committed, a PNG already
    written is removed again, so nothing is left half-stored.
    """
    images.check_free_space(config["storage.min_free_bytes"])
    original = Original(data, config["storage.max_width"], config["storage.png_compress_level"],
                        stored_palette_colors(config))
    kept_as_received = fields["kind"] != "identity"
    # Decoded even when it is kept as received: a damaged, oversized or foreign image is refused now.
    if kept_as_received:
        stored, size = data, check_upload(data, config)
    else:
        image = decode_upload(data, config)
        stored, size = converted(original, image), image.size
    width, height = fitted_size(*size, config["storage.max_width"])
    camshot_id = storage.new_id()
    relative = storage.camshot_path(attempt["course_id"], attempt["quiz_id"], attempt["id"], camshot_id).as_posix()
    if not kept_as_received:
        images.put(relative, stored)
    now = time.time()
    try:
        # Safe beside other uploads without the database-wide write lock: the unique client_shot_id
        # settles a race, and every node stores camshots in parallel.
        with write_transaction(db, exclusive=False):
            db.execute(
                "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, "
                "width, height, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [camshot_id, attempt["id"], fields["client_shot_id"], fields["kind"], fields["taken_at"], now,
                 relative, len(stored), width, height, hashlib.sha256(stored).hexdigest()],
            )
            if kept_as_received:
                db.execute("INSERT INTO camshot_originals (camshot_id, data, max_width, compress_level, "
                           "palette_colors) VALUES (?, ?, ?, ?, ?)", [camshot_id, *original])
            db.execute(
                "INSERT INTO jobs (camshot_id, created_at, updated_at) VALUES (?, ?, ?)", [camshot_id, now, now]
            )
            if pay is not None:
                pay(db)
    except IntegrityError:
        # The same client_shot_id raced in through another worker: keep its copy, not ours.
        images.discard(relative)
        existing = find_by_client_id(db, attempt["id"], fields["client_shot_id"])
        if existing is None:
            raise
        return existing
    except BaseException:
        images.discard(relative)
        raise
    return {"id": camshot_id, "attempt_id": attempt["id"], "bytes": len(stored), "width": width, "height": height}


def converted(original, image=None):
    """The PNG bytes of a camshot's Original, the same whoever makes them and whenever: the worker that stores
    them, or a reader before it has. image: its data decoded."""
    return encode_png(stored_pixels(original, image), original.compress_level)


def stored_pixels(original, image=None):
    """The image a camshot's PNG keeps of its original (see converted): scaled to the width stored and, in palette
    storage, quantized. image: its data decoded."""
    data, max_width, _, palette_colors = original
    image = fit_width(decode_original(data) if image is None else image, max_width)
    return quantized(image, palette_colors) if palette_colors else image


def originals(db, camshot_ids):
    """{camshot id: original} of those of these camshots still kept as received; see converted()."""
    if not camshot_ids:
        return {}
    marks = ", ".join("?" * len(camshot_ids))
    return {row[0]: Original(bytes(row[1]), *row[2:]) for row in db.execute(
        "SELECT camshot_id, data, max_width, compress_level, palette_colors FROM camshot_originals "
        f"WHERE camshot_id IN ({marks})", list(camshot_ids))}


def png_bytes(images, path, original=None):
    """The PNG of a camshot or reference photo: made from its original if it has one still, else read from the
    image store (FileNotFoundError if it is gone)."""
    return converted(original) if original is not None else images.get(path)


def read_png(db, images, camshot_id, path):
    """The PNG bytes of a camshot or reference photo, whether or not the worker has converted it yet."""
    return png_bytes(images, path, originals(db, [camshot_id]).get(camshot_id))


Written = namedtuple("Written", "png pixels")  # a camshot's PNG bytes and the RGB image of its pixels


def write_png(db, images, camshot_id, path):
    """Write the PNG of a camshot kept as received to the image store from its original; the Written PNG (its
    pixels as decoding it would give them, without the decode), or None if it has no original.

    The original stays until forget_original's transaction commits: the PNG is durable before the original goes,
    so a crash between the two makes the next try write the same bytes again.
    """
    original = originals(db, [camshot_id]).get(camshot_id)
    if original is None:
        return None
    pixels = stored_pixels(original)
    png = encode_png(pixels, original.compress_level)
    images.put(path, png)
    return Written(png, pixels.convert("RGB"))


def forget_original(db, camshot_id, png):
    """In the caller's write transaction, once the camshot's PNG is written: drop its original. bytes and sha256
    then describe the PNG, as they described the original before."""
    db.execute("UPDATE camshots SET bytes = ?, sha256 = ? WHERE id = ?",
               [len(png), hashlib.sha256(png).hexdigest(), camshot_id])
    db.execute("DELETE FROM camshot_originals WHERE camshot_id = ?", [camshot_id])


def discard_if_purged(db, images, camshot_id, path):
    """After write_png's PNG is recorded, or not: a camshot purged while it was being written leaves no PNG."""
    if db.execute("SELECT 1 FROM camshots WHERE id = ?", [camshot_id]).fetchone() is None:
        images.discard(path)


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
        data = read_png(db, images, camshot_id, row[0])
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
