"""Liveness at the identity step: the student follows a challenge the sidecar draws at random, and the
frames the camera took meanwhile must show a live face doing it, not a photo held up to the camera nor
the profile picture any logged-in user can download.

A challenge is issued for one attempt, used once, and expires soon. What the frames must show:
- closer: the face grows (its eyes move apart) from one frame to a later one;
- left, right: a frame faces the camera and another turns the head to that side, measured from dlib's
  68 landmarks as where the nose tip lies along the line through the eyes.
Refused before any of that: a frame whose face is a near-duplicate of one of the user's reference
photos, the Moodle profile photo above all (a difference hash of the face alone, whatever the framing),
and frames that are all alike (a still image).
"""
import io
import secrets
from collections import namedtuple

import numpy as np
from PIL import Image

from ..db import write_transaction
from ..errors import BadRequest, Conflict, NotFound
from .faces import analysis_size, load_face_recognition

CHALLENGES = ("closer", "left", "right")
INSTRUCTIONS = {
    "closer": "Move closer to the camera.",
    "left": "Turn your head to your left, then back.",
    "right": "Turn your head to your right, then back.",
}
FRAMES = 6  # the browser takes this many frames while the student follows the challenge
MIN_FRAMES = 4  # fewer cannot show a movement and a face facing the camera
MAX_FRAMES = 8  # each frame costs a face detection in the request: a bound on its CPU
CAPTURE_SECONDS = 4  # the browser spreads its frames over this long: time for a head to turn and come back

HASH_SIZE = 8  # a difference hash of 8 x 8 bits
# Bits of 64 in which the faces of two pictures may differ and still be one photo: measured on the shared
# test photos, a webcam's framing of a photo (zoomed up to 1.6 times) differs from it in 0 to 11 bits, another
# photo of the same person in 24 or more; obama.jpg and obama-480p.jpg, one shot at two sizes, in 13.
NEAR_DUPLICATE_BITS = 14
STILL_BITS = 3  # of 64: whole frames of a camera that films a still picture differ by sensor noise only
CLOSER_GROWTH = 1.2  # a later frame must show the eyes at least this much further apart than an earlier one
FRONTAL_POSE = 0.25  # |pose| at most this in one frame: the face looks at the camera (photos facing it read 0 to 0.22)
TURN_CHANGE = 0.12  # the pose must move at least this toward the side asked from the first frame (noise: 0.03)

Outcome = namedtuple("Outcome", "passed reason photo poses sizes")  # photo: index of the frame to keep

MESSAGES = {
    "profile_photo": "The camera showed your profile picture, not you. Sit in front of the camera yourself and "
                     "try again.",
    "still": "The camera showed a still picture: nothing moved between the photos. Follow the instruction "
             "while the photos are taken.",
    "no_face": "Your face was not seen clearly in the photos. Sit facing the camera in good light, alone, "
               "and try again.",
    "not_met": "The photos do not show you following the instruction. Watch the instruction and try again.",
}


def hash_image(image):
    """The image's difference hash: whether each pixel of a small greyscale copy is brighter than its right
    neighbour, as HASH_SIZE x HASH_SIZE booleans. Rescaling and re-encoding change few of them."""
    small = image.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.int16)
    return (pixels[:, 1:] > pixels[:, :-1]).flatten()


def hash_distance(first, second):
    """How many of the 64 bits two difference hashes differ in."""
    return int(np.count_nonzero(first != second))


def pose(landmarks):
    """Where the nose tip lies along the line from the face's right eye to its left eye, from the eyes'
    midpoint, in eye distances: 0 facing the camera, positive turned to the student's left.

    Measured along the eyes' line, a tilted head facing the camera still reads 0. In the camera's
    (unmirrored) picture the student's left eye is on the right, so turning to their left moves the nose
    toward it."""
    right_eye = np.mean(landmarks["left_eye"], axis=0)  # face_recognition names the eyes as the picture shows them
    left_eye = np.mean(landmarks["right_eye"], axis=0)
    nose_tip = np.asarray(landmarks["nose_tip"][len(landmarks["nose_tip"]) // 2], dtype=float)
    axis = left_eye - right_eye
    return float(np.dot(nose_tip - (left_eye + right_eye) / 2, axis) / np.dot(axis, axis))


def eye_distance(landmarks):
    """Pixels between the eyes' centres: it grows as the face comes closer."""
    return float(np.linalg.norm(np.mean(landmarks["left_eye"], axis=0) - np.mean(landmarks["right_eye"], axis=0)))


def face_landmarks(image, config):
    """The 68 landmarks of the one face in the frame, in the frame's pixels; None for no face or several."""
    face_recognition = load_face_recognition()
    small = analysis_size(image, config["analysis.width"])
    boxes = face_recognition.face_locations(np.asarray(small), config["analysis.upsample"], config["analysis.model"])
    if len(boxes) != 1:
        return None
    scale = image.width / small.width
    found = face_recognition.face_landmarks(np.asarray(small), boxes)[0]
    return {part: [(x * scale, y * scale) for x, y in points] for part, points in found.items()}


def face_hash(image, landmarks):
    """The difference hash of the face alone, cut where its landmarks end: the same whatever the framing,
    so a photo shown to the camera whole, cropped or zoomed hashes alike."""
    points = np.array([point for part in landmarks.values() for point in part])
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    return hash_image(image.crop((round(left), round(top), round(right), round(bottom))))


def reference_hashes(db, images, user_id, config):
    """Face hashes of the user's reference photos (the Moodle profile photo first of all)."""
    hashes = []
    for (path,) in db.execute("SELECT path FROM reference_photos WHERE user_id = ?", [user_id]):
        with Image.open(io.BytesIO(images.get(path))) as photo:
            photo = photo.convert("RGB")
        landmarks = face_landmarks(photo, config)
        if landmarks is not None:
            hashes.append(face_hash(photo, landmarks))
    return hashes


def check(frames, challenge, reference_hashes, config):
    """Whether the frames show a live face following the challenge: an Outcome."""
    found = [face_landmarks(frame, config) for frame in frames]
    faced = [(i, landmarks) for i, landmarks in enumerate(found) if landmarks is not None]
    if any(hash_distance(face_hash(frames[i], landmarks), reference) <= NEAR_DUPLICATE_BITS
           for i, landmarks in faced for reference in reference_hashes):
        return Outcome(False, "profile_photo", None, [], [])
    hashes = [hash_image(frame) for frame in frames]
    if all(hash_distance(h, hashes[0]) <= STILL_BITS for h in hashes[1:]):
        return Outcome(False, "still", None, [], [])
    if len(faced) < MIN_FRAMES:
        return Outcome(False, "no_face", None, [], [])
    poses = [pose(landmarks) for _, landmarks in faced]
    sizes = [eye_distance(landmarks) for _, landmarks in faced]
    frontal = int(np.argmin(np.abs(poses)))
    met = abs(poses[frontal]) <= FRONTAL_POSE and _met(challenge, poses, sizes)
    return Outcome(met, None if met else "not_met", faced[frontal][0], poses, sizes)


def _met(challenge, poses, sizes):
    if challenge == "closer":
        return any(later / sizes[i] >= CLOSER_GROWTH for i in range(len(sizes)) for later in sizes[i + 1:])
    side = 1 if challenge == "left" else -1
    return any(side * (value - poses[0]) >= TURN_CHANGE for value in poses[1:])


# --- challenges: issued per attempt, used once ------------------------------------------------

def allowed(config):
    """The challenges identity.challenges allows, in their order."""
    return [name.strip() for name in config["identity.challenges"].split(",") if name.strip()]


def refusals(db, attempt_id):
    """How many identity checks of the attempt were refused."""
    return db.execute("SELECT count(*) FROM identity_challenges WHERE attempt_id = ? AND outcome = 'refused'",
                      [attempt_id]).fetchone()[0]


def refuse_past_refusals(db, config, attempt_id):
    """Past identity.max_refusals refused checks the student waits for the teacher, who can let them go on."""
    if refusals(db, attempt_id) >= config["identity.max_refusals"]:
        raise Conflict(f"The identity check of attempt {attempt_id} was refused {config['identity.max_refusals']} "
                       "times: the student waits for the teacher, who can let the attempt go on.",
                       code="identity_refusals_exhausted")


def issue(db, config, attempt_id, now):
    """Draw a challenge at random among the allowed ones and keep it for this attempt; its JSON."""
    refuse_past_refusals(db, config, attempt_id)
    challenge = {"id": secrets.token_hex(16), "kind": secrets.choice(allowed(config)),
                 "expires_at": now + config["identity.challenge_seconds"]}
    with write_transaction(db):
        db.execute("INSERT INTO identity_challenges (id, attempt_id, kind, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                   [challenge["id"], attempt_id, challenge["kind"], now, challenge["expires_at"]])
    return {**challenge, "instruction": INSTRUCTIONS[challenge["kind"]], "frames": FRAMES,
            "seconds": CAPTURE_SECONDS}


def take(db, config, attempt_id, challenge_id, now):
    """Use the attempt's challenge once, before it expires; its kind."""
    with write_transaction(db):
        refuse_past_refusals(db, config, attempt_id)
        row = db.execute("SELECT kind, expires_at, used_at FROM identity_challenges WHERE id = ? AND attempt_id = ?",
                         [challenge_id, attempt_id]).fetchone()
        if row is None:
            raise NotFound(f"Attempt {attempt_id} has no identity challenge {challenge_id}; ask for one with "
                           f"POST /api/v1/attempts/{attempt_id}/identity/challenge.", code="unknown_challenge")
        kind, expires_at, used_at = row
        if used_at is not None:
            raise Conflict("This identity challenge was already used; ask for a new one.", code="challenge_used")
        if expires_at <= now:
            raise Conflict("This identity challenge has expired; ask for a new one.", code="challenge_expired")
        db.execute("UPDATE identity_challenges SET used_at = ? WHERE id = ?", [now, challenge_id])
    return kind


def record_outcome(db, challenge_id, passed, reason):
    """What the check of a used challenge concluded: passed, or refused and why (in the caller's transaction)."""
    db.execute("UPDATE identity_challenges SET outcome = ?, reason = ? WHERE id = ?",
               ["passed" if passed else "refused", reason, challenge_id])


def frame_count(count):
    """Refuse a number of frames that cannot show a challenge, or that would cost too much to analyse."""
    if not MIN_FRAMES <= count <= MAX_FRAMES:
        raise BadRequest(f"An identity check takes {MIN_FRAMES} to {MAX_FRAMES} image parts named 'frame', "
                         f"taken while the student follows the challenge; got {count}.", code="too_few_frames"
                         if count < MIN_FRAMES else "too_many_frames")
