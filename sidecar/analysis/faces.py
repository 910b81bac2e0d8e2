"""Finding and encoding faces, and the verdict a camshot gets from them."""
import os
import sys
from collections import namedtuple

import numpy as np
from PIL import Image, ImageFile

from .models import check_models

ENCODING_SIZE = 128  # floats in a dlib face encoding
MAX_ENCODED_FACES = 4  # a crowd costs one encoding (~0.1 s) per face; four are enough to find a substitute

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


def find_faces(image, config):
    """Detect faces at most analysis.width wide, encode them at the stored size.

    Detection is what grows with the frame, so it runs on the smaller copy; the encoding
    works on a fixed 150-pixel chip and is sharper taken from the full frame.
    """
    face_recognition = load_face_recognition()
    small = analysis_size(image, config["analysis.width"])
    found = face_recognition.face_locations(np.asarray(small), config["analysis.upsample"], config["analysis.model"])
    x_scale, y_scale = image.width / small.width, image.height / small.height
    boxes = [_scale_box(box, x_scale, y_scale, image.width, image.height) for box in found]
    pixels = np.asarray(image)
    encodings = face_recognition.face_encodings(pixels, boxes[:MAX_ENCODED_FACES]) if boxes else []
    return Faces(boxes, [np.asarray(e, dtype=np.float64) for e in encodings])


def analysis_size(image, width):
    """The image at most width wide; a whole-number reduction (640 to 320) averages pixel blocks,
    which is several times faster than resampling."""
    if image.width <= width:
        return image
    factor = image.width / width
    if factor.is_integer():
        return image.reduce(int(factor))
    return image.resize((width, max(1, round(image.height / factor))), Image.Resampling.BILINEAR)


def _scale_box(box, x_scale, y_scale, width, height):
    top, right, bottom, left = box
    return (max(round(top * y_scale), 0), min(round(right * x_scale), width),
            min(round(bottom * y_scale), height), max(round(left * x_scale), 0))


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
