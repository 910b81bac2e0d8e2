"""`proctorpy demo`: a demo course of analysed attempts, so reports and the console show something real.

Six students sit one quiz; each attempt plays a scene a teacher should recognise (an honest
attempt, a student who leaves the desk, a second person in view, a substitute, a camera
switched off, a stranger at the keyboard). Camshots are made from the demo's own face photos
(demo_photos/, installed with the package; PROVENANCE.md there says where each comes from) and go through the real API, the real analysis and the real scoring. Running it again changes
nothing: every id and idempotency key is fixed.
"""
import io
import json
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from . import create_app
from .analysis.faces import load_face_recognition
from .analysis.worker import work
from .client import multipart
from .db import connect, database_location
from .signing import signed_headers

PHOTOS = Path(__file__).resolve().parent / "demo_photos"
COURSE = {"course_id": 9001, "course_name": "Demo: Biology 101"}
QUIZ = {"quiz_id": 9101, "cm_id": 9201, "quiz_name": "Demo midterm"}
INTERVAL = 30  # seconds between camshots in the demo attempts
MINUTES = 12

# (user id, name, profile photo, scene); a scene is a list of (minutes, what the camera sees).
STUDENTS = [
    (90001, "Barack Obama", "obama/obama.jpg", "honest",
     [(12, ["obama/obama1.jpg", "obama/obama2.jpg", "obama/obama3.jpg", "obama/obama-480p.jpg"])]),
    (90002, "Joe Biden", "biden/biden.jpg", "leaves the desk and switches tabs",
     [(5, ["biden/biden2.jpg"]), (3, ["noface/coffee.png", "noface/chelsea_cat.png"]), (4, ["biden/biden2.jpg"])]),
    (90003, "Kit Harington", "kit_harington/john1.jpeg", "a second person in view",
     [(4, ["kit_harington/john2.jpeg", "kit_harington/johnsnow_test1.jpg"]), (4, ["multi/kit_with_rose.jpg"]),
      (4, ["kit_harington/john2.jpeg"])]),
    (90004, "Rose Leslie", "rose_leslie/img1.jpg", "another student of the quiz sits in",
     [(3, ["rose_leslie/img2.jpg"]), (6, ["kit_harington/john2.jpeg", "kit_harington/johnsnow_test1.jpg"]),
      (3, ["rose_leslie/img2.jpg"])]),
    (90005, "Alex Lacamoire", "alex_lacamoire/img1.jpg", "camera switched off for five minutes",
     [(3, ["alex_lacamoire/alex_lacamoire1.jpg", "alex_lacamoire/alex-lacamoire.png"]), (5, []),
      (4, ["alex_lacamoire/alex_lacamoire1.jpg"])]),
    (90006, "Lin-Manuel Miranda", "lin_manuel_miranda/lin-manuel-miranda.png", "a stranger at the keyboard",
     [(4, ["lin_manuel_miranda/lin-manuel-miranda.png"]), (5, ["eileen_collins/astronaut.png"]),
      (3, ["lin_manuel_miranda/lin-manuel-miranda.png"])]),
]

# Browser events of each scene: (user id, minute, type).
EVENTS = [
    (90002, 6.0, "tab_hidden"), (90002, 8.5, "tab_visible"),
    (90005, 3.0, "camera_lost"), (90005, 8.0, "camera_back"),
    (90003, 10.0, "focus_lost"), (90003, 10.5, "focus_back"),
]


class DemoError(Exception):
    "The demo cannot be loaded (photos missing, a request refused)"


def framing(photo, face_recognition):
    """Centre and width of a 4:3 window that frames the photo's faces as a webcam would."""
    width, height = photo.size
    scale = min(1.0, 800 / max(width, height))
    small = np.asarray(photo.resize((round(width * scale), round(height * scale))))
    boxes = face_recognition.face_locations(small)
    if not boxes:
        return width / 2, height / 2, min(width, height * 4 / 3)
    top = min(b[0] for b in boxes) / scale
    right = max(b[1] for b in boxes) / scale
    bottom = max(b[2] for b in boxes) / scale
    left = min(b[3] for b in boxes) / scale
    # A face at a desk fills about 40% of the frame's height.
    crop_w = max((right - left) * 1.8, (bottom - top) * 2.5 * 4 / 3)
    return (left + right) / 2, (top + bottom) / 2, min(crop_w, width, height * 4 / 3)


def webcam_picture(path, rng, face_recognition, zoom=1.0, turn=0.0):
    """A 320x240 picture cut from a photo, with the small shifts and light changes of a live camera.

    zoom > 1 frames the face closer, as if the student leant in. turn shears the picture horizontally
    about its middle row, so the nose, below the eyes, moves sideways along the eyes' line as in a head
    turn: positive toward the student's left (the picture's right). It is a stand-in for a photo of a
    turned head; tests/test_liveness.py measures that dlib's landmarks read it as one."""
    with Image.open(path) as photo:
        photo = photo.convert("RGB")
    width, height = photo.size
    centre_x, centre_y, crop_w = framing(photo, face_recognition)
    crop_w /= zoom
    crop_h = crop_w * 3 / 4
    jitter = crop_w / 40
    left = max(0, min(width - crop_w, centre_x - crop_w / 2 + rng.uniform(-jitter, jitter)))
    top = max(0, min(height - crop_h, centre_y - crop_h / 2 + rng.uniform(-jitter, jitter)))
    frame = photo.crop((round(left), round(top), round(left + crop_w), round(top + crop_h))).resize((320, 240))
    if turn:
        # Output (x, y) shows input (x - turn * (y - 120), y): a row d pixels below the middle moves turn * d
        # pixels right, a row above it moves left.
        frame = frame.transform(frame.size, Image.Transform.AFFINE, (1, -turn, 120 * turn, 0, 1, 0),
                                Image.Resampling.BILINEAR)
    return ImageEnhance.Brightness(frame).enhance(rng.uniform(0.9, 1.1))


def jpeg(picture):
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return out.getvalue()


def webcam_frame(path, rng, face_recognition):
    """A webcam picture of the photo as JPEG bytes."""
    return jpeg(webcam_picture(path, rng, face_recognition))


# How a face moves over the frames of each identity challenge: (zoom, turn) per frame.
CHALLENGE_MOVES = {
    "closer": [(1.0, 0.0), (1.0, 0.0), (1.15, 0.0), (1.3, 0.0), (1.45, 0.0), (1.6, 0.0)],
    "left": [(1.0, 0.0), (1.0, 0.0), (1.0, 0.25), (1.0, 0.5), (1.0, 0.25), (1.0, 0.0)],
    "right": [(1.0, 0.0), (1.0, 0.0), (1.0, -0.25), (1.0, -0.5), (1.0, -0.25), (1.0, 0.0)],
}


def challenge_pictures(path, challenge, rng, face_recognition):
    """The pictures a camera takes of this face while its student follows the identity challenge."""
    return [webcam_picture(path, rng, face_recognition, zoom, turn) for zoom, turn in CHALLENGE_MOVES[challenge]]


def photo_bytes(path):
    with Image.open(path) as photo:
        out = io.BytesIO()
        photo.convert("RGB").save(out, format="JPEG", quality=90)
        return out.getvalue()


class DemoLoader:
    """Posts the demo through the app's own signed API, in process."""

    def __init__(self, app, photos, face_recognition):
        self.face_recognition = face_recognition
        self.client = app.test_client()
        self.secret = app.config["SECRET"]
        self.photos = Path(photos)

    def call(self, method, path, body=b"", content_type=None):
        headers = signed_headers(self.secret, method, path, body)
        response = self.client.open(path, method=method, data=body, content_type=content_type, headers=headers)
        if response.status_code >= 400:
            raise DemoError(f"{method} {path} was refused: {response.get_data(as_text=True)}")
        return response.get_json()

    def image(self, method, path, fields, data):
        body, ctype = multipart(fields, {"image": ("frame.jpg", data, "image/jpeg")})
        return self.call(method, path, body, ctype)

    def identity_step(self, attempt_id, user_id, start, photo, rng):
        """Follow the challenge the sidecar draws with frames of the photo; a second load finds the step over."""
        client_shot_id = f"demo-{attempt_id}-id"
        fields = {"user_id": user_id, "taken_at": start * 1000, "client_shot_id": client_shot_id}
        path = f"/api/v1/attempts/{attempt_id}/identity"
        body = json.dumps({"user_id": user_id}).encode()
        headers = signed_headers(self.secret, "POST", path + "/challenge", body)
        drawn = self.client.open(path + "/challenge", method="POST", data=body, content_type="application/json",
                                 headers=headers)
        if drawn.status_code == 409:  # loaded before: the step is over
            return
        if drawn.status_code >= 400:
            raise DemoError(f"POST {path}/challenge was refused: {drawn.get_data(as_text=True)}")
        challenge = drawn.get_json()
        frames = [("frame.jpg", jpeg(picture), "image/jpeg")
                  for picture in challenge_pictures(photo, challenge["kind"], rng, self.face_recognition)]
        body, ctype = multipart({**fields, "challenge_id": challenge["id"]}, {"frame": frames})
        self.call("POST", path, body, ctype)

    def load(self, start):
        """Register, capture and finish every demo attempt; return the attempt ids."""
        rng = random.Random(2026)
        attempts = []
        for user_id, name, profile, _scene, scene in STUDENTS:
            attempt_id = user_id
            self.image("PUT", f"/api/v1/users/{user_id}/reference", {}, photo_bytes(self.photos / profile))
            body = {"user_id": user_id, "user_fullname": name, **COURSE, **QUIZ, "started_at": start,
                    "interval_min": INTERVAL, "interval_max": INTERVAL, "identity_check": "match", "threshold": 70}
            self.call("PUT", f"/api/v1/attempts/{attempt_id}", json.dumps(body).encode(), "application/json")
            self.identity_step(attempt_id, user_id, start, self.photos / scene[0][1][0], rng)
            minute = 0.0
            for length, frames in scene:
                shots = round(length * 60 / INTERVAL)
                for n in range(shots):
                    taken_at = int((start + (minute * 60) + n * INTERVAL + INTERVAL / 2) * 1000)
                    if frames:
                        frame = webcam_frame(self.photos / frames[n % len(frames)], rng, self.face_recognition)
                        self.image("POST", "/api/v1/camshots",
                                   {"attempt_id": attempt_id, "user_id": user_id, "taken_at": taken_at,
                                    "client_shot_id": f"demo-{attempt_id}-{taken_at}", "kind": "attempt"}, frame)
                minute += length
            for event_user, at_minute, event_type in EVENTS:
                if event_user == user_id:
                    event = {"attempt_id": attempt_id, "user_id": user_id, "type": event_type,
                             "at": int((start + at_minute * 60) * 1000),
                             "client_event_id": f"demo-{attempt_id}-{event_type}-{at_minute}"}
                    self.call("POST", "/api/v1/events", json.dumps(event).encode(), "application/json")
            finished = start + MINUTES * 60
            self.call("POST", f"/api/v1/attempts/{attempt_id}/finish",
                      json.dumps({"finished_at": finished}).encode(), "application/json")
            attempts.append(attempt_id)
        return attempts


def load_demo(config, photos, start=None):
    """Load and analyse the demo; return (attempt id, student, scene, score, flagged) rows."""
    if not (Path(photos) / "obama" / "obama.jpg").is_file():
        raise DemoError(f"the demo photos are not in {photos}; pass --photos DIR of the same files")
    app = create_app(config)
    # Yesterday at midnight UTC: every camshot keeps its client id when the demo is loaded again the same
    # day, so a second load stores nothing twice and spends none of an attempt's upload allowance.
    start = start or (int(time.time()) // 86400 - 1) * 86400
    attempts = DemoLoader(app, photos, load_face_recognition()).load(start)
    work(config, name="demo", until_idle=True)
    db = connect(database_location(config))
    try:
        scores = dict((r[0], (r[1], r[2])) for r in db.execute(
            f"SELECT attempt_id, value, flagged FROM scores WHERE attempt_id IN ({','.join('?' * len(attempts))})",
            attempts))
    finally:
        db.close()
    return [(user_id, name, scene_name, *scores.get(user_id, (None, False)))
            for user_id, name, _profile, scene_name, _scene in STUDENTS]
