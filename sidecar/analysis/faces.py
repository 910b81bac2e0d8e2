"""Finding and encoding faces, and the verdict a camshot gets from them."""
import os
import sys
from collections import namedtuple

import numpy as np
from PIL import Image, ImageFile

from .models import check_models

ENCODING_SIZE = 128  # floats in a dlib face encoding
MAX_ENCODED_FACES = 4  # a crowd costs one encoding (~0.1 s) per face; four are enough to find a substitute
TRACK_MARGIN = 0.35  # the region a tracked face is looked for in: its previous box widened by 0.35 of its size a side
TRACK_FACE_WIDTH = 90  # pixels a tracked face is scaled to: the HOG detector's 80-pixel window finds it unupsampled
CHANGE_CELLS = 160  # cells across which frames are compared (averages of 2x2 pixels of a 320-pixel frame)
CHANGE_REACH = 4  # cells the picture may move as a whole from one camshot to the next and still be compared
CHANGE_LEVEL = 24  # a block of 4x4 cells changed when its mean difference is above this (of 255)

Faces = namedtuple("Faces", "boxes encodings")  # boxes in stored-image pixels (top, right, bottom, left)
Verdict = namedtuple("Verdict", "status faces boxes distance matched_user_id")


class ModelsUnavailable(RuntimeError):
    "The face models cannot be loaded: analysis cannot run at all"


def load_face_recognition():
    """The face_recognition module, or ModelsUnavailable saying why not.

    face_recognition prints a hint and calls quit() (exit status 0) when its models package
    is broken, which would end a worker silently as if it had finished; here that is an error.
    """
    loaded = sys.modules.get("face_recognition")  # a failed import leaves no entry here
    if loaded is not None:
        return loaded
    try:
        check_models()
    except RuntimeError as error:
        raise ModelsUnavailable(str(error)) from None
    # Importing it also sets PIL's LOAD_TRUNCATED_IMAGES for the whole process, which would let
    # truncated uploads through images.decode_upload; the process keeps its own setting.
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    # dlib's encoding runs on OpenBLAS, whose threads busy-wait between calls; workers already
    # run one process per core, so each keeps to one thread unless the admin says otherwise.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import face_recognition
    except SystemExit:
        raise ModelsUnavailable(
            "face_recognition could not load face_recognition_models and tried to exit; run `make install`"
        ) from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    return face_recognition


def find_faces(image, config, near=None):
    """Detect faces (locate_faces), encode them at the stored size: the encoding works on a fixed 150-pixel chip
    and is sharper taken from the full frame."""
    boxes = locate_faces(image, config, near)
    encodings = load_face_recognition().face_encodings(np.asarray(image), boxes[:MAX_ENCODED_FACES]) if boxes else []
    return Faces(boxes, [np.asarray(e, dtype=np.float64) for e in encodings])


def locate_faces(image, config, near=None):
    """Face boxes (top, right, bottom, left) in the image's pixels.

    The whole frame is searched at most analysis.width wide: detection is what grows with the frame.
    near: the box of the one face the attempt's previous camshot showed. The face is looked for first in that
    box widened (tracked_region), scaled to about TRACK_FACE_WIDTH so that no upsampling is needed: a few
    percent of the pixels the whole frame costs. The whole frame is searched when that does not find exactly one
    face there; whether a face may have come in elsewhere is for the caller to say (changed_outside).
    """
    if near is not None:
        boxes = _locate_near(image, config, near)
        if len(boxes) == 1:
            return boxes
    small = analysis_size(image, config["analysis.width"])
    found = load_face_recognition().face_locations(np.asarray(small), config["analysis.upsample"],
                                                   config["analysis.model"])
    x_scale, y_scale = image.width / small.width, image.height / small.height
    return [_scale_box(box, x_scale, y_scale, image.width, image.height) for box in found]


def _locate_near(image, config, box):
    left, top, right, bottom = tracked_region(box, image.width, image.height)
    scale = TRACK_FACE_WIDTH / max(box[1] - box[3], box[2] - box[0], 1)
    region = image.resize((max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale))),
                          Image.Resampling.BILINEAR, box=(left, top, right, bottom), reducing_gap=2.0)
    found = load_face_recognition().face_locations(np.asarray(region), 0, config["analysis.model"])
    x_scale, y_scale = (right - left) / region.width, (bottom - top) / region.height
    return [_scale_box((t, r, b, l), x_scale, y_scale, right - left, bottom - top, left, top)
            for t, r, b, l in found]


def tracked_region(box, width, height):
    """(left, top, right, bottom) of a face box widened by TRACK_MARGIN of its size each side, within the frame."""
    top, right, bottom, left = box
    margin = round(max(right - left, bottom - top) * TRACK_MARGIN)
    return max(left - margin, 0), max(top - margin, 0), min(right + margin, width), min(bottom + margin, height)


def changed_outside(before, after, box):
    """Whether a face-sized part of the frame outside the tracked region of box changed from before to after.

    The frames are compared CHANGE_CELLS cells across, as they are and, if that shows a change, once the picture
    as a whole is moved back where it was (a webcam nudged, a student's laptop moved: the move is found coarse,
    then fine), so neither a webcam's noise nor a small move counts. A block of 4x4 cells counts as changed only
    with its eight neighbours changed too: a face coming in is several blocks wide, the thin lines along edges
    that a move leaves are not.
    """
    if before.size != after.size:
        return True
    cell = max(1, after.width // CHANGE_CELLS)
    a, b = (np.asarray(image.reduce(cell), dtype=np.int16) for image in (before, after))
    left, top, right, bottom = (round(side / cell) for side in tracked_region(box, after.width, after.height))
    region = (slice(top, bottom), slice(left, right))
    if not _changed_blocks(a, b, (0, 0), region):
        return False
    grey_a, grey_b = (image.convert("L").reduce(cell) for image in (before, after))  # enough to find the move
    coarse = _best_shift(*(np.asarray(grey.reduce(2), dtype=np.int16) for grey in (grey_a, grey_b)),
                         (0, 0), CHANGE_REACH // 2)
    move = _best_shift(np.asarray(grey_a, dtype=np.int16), np.asarray(grey_b, dtype=np.int16),
                       (2 * coarse[0], 2 * coarse[1]), 1)
    return move == (0, 0) or _changed_blocks(a, b, move, region)


def _changed_blocks(before, after, move, region):
    """Whether, once before is moved by move, a solid part of after outside region (in cells) differs from it."""
    after_part, before_part = _overlap(before.shape, *move)
    channels = np.abs(after[after_part] - before[before_part])
    difference = np.zeros(before.shape[:2], dtype=np.int16)
    difference[after_part] = np.maximum(np.maximum(channels[..., 0], channels[..., 1]), channels[..., 2])
    difference[region] = 0
    rows, columns = before.shape[0] // 4, before.shape[1] // 4
    sums = difference[:rows * 4, :columns * 4].reshape(rows, 4, columns, 4).sum(axis=3, dtype=np.int32).sum(axis=1)
    changed = sums > 16 * CHANGE_LEVEL
    solid = np.ones((rows - 2, columns - 2), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            solid &= changed[dy:dy + rows - 2, dx:dx + columns - 2]
    return bool(solid.any())


def _overlap(shape, dy, dx):
    """Slices of the part of a frame moved by (dy, dx) that the frame before shows, and of where it was before."""
    rows, columns = shape[:2]
    return ((slice(max(dy, 0), rows + min(dy, 0)), slice(max(dx, 0), columns + min(dx, 0))),
            (slice(max(-dy, 0), rows + min(-dy, 0)), slice(max(-dx, 0), columns + min(-dx, 0))))


def _best_shift(before, after, centre, reach):
    """The move (dy, dx) within reach of centre that best takes before onto after."""
    def mismatch(shift):
        after_part, before_part = _overlap(before.shape, *shift)
        return np.abs(after[after_part] - before[before_part]).sum() / after[after_part].size
    return min(((dy, dx) for dy in range(centre[0] - reach, centre[0] + reach + 1)
                for dx in range(centre[1] - reach, centre[1] + reach + 1)), key=mismatch)


def analysis_size(image, width):
    """The image at most width wide; a whole-number reduction (640 to 320) averages pixel blocks,
    which is several times faster than resampling."""
    if image.width <= width:
        return image
    factor = image.width / width
    if factor.is_integer():
        return image.reduce(int(factor))
    return image.resize((width, max(1, round(image.height / factor))), Image.Resampling.BILINEAR)


def _scale_box(box, x_scale, y_scale, width, height, x=0, y=0):
    """A box scaled, kept within width and height, then moved by (x, y)."""
    top, right, bottom, left = box
    return (max(round(top * y_scale), 0) + y, min(round(right * x_scale), width) + x,
            min(round(bottom * y_scale), height) + y, max(round(left * x_scale), 0) + x)


def verdict(faces, own, others, threshold):
    """The camshot's status from its faces and the references it is compared with.

    own: an (n, 128) array of the student's references (may be empty); others: a pair
    (user ids, (m, 128) array) of the other students' references in the same quiz, one id
    per row. A face is a person's when its distance to them is at most threshold.
    """
    count = len(faces.boxes)
    if count == 0:
        return Verdict("no_face", 0, [], None, None)
    own_distances = [_nearest(encoding, own) for encoding in faces.encodings]
    known = [d for d in own_distances if d is not None]
    distance = min(known) if known else None
    matched_user_id = None
    if count == 1 and (distance is None or distance <= threshold):
        status = "ok"
    else:
        status = "mismatch" if count == 1 else "multiple_faces"
        strangers = [e for e, d in zip(faces.encodings, own_distances) if d is None or d > threshold]
        matched_user_id = _substitute(strangers, others, threshold)
    return Verdict(status, count, [list(b) for b in faces.boxes], distance, matched_user_id)


def _nearest(encoding, references):
    if len(references) == 0:
        return None
    return float(np.min(np.linalg.norm(references - encoding, axis=1)))


def _substitute(encodings, others, threshold):
    """The other student whose reference is nearest to one of these faces, within threshold."""
    user_ids, references = others
    best = None
    for encoding in encodings:
        if len(references) == 0:
            break
        distances = np.linalg.norm(references - encoding, axis=1)
        row = int(np.argmin(distances))
        if distances[row] <= threshold and (best is None or distances[row] < best[0]):
            best = (float(distances[row]), user_ids[row])
    return best[1] if best else None


def encoding_blob(encoding):
    return np.asarray(encoding, dtype="<f8").tobytes()


def encoding_from_blob(blob):
    return np.frombuffer(blob, dtype="<f8")
