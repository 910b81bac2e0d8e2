"""Analysing an attempt's camshots as a sequence: the face tracked from one camshot to the next, the whole frame
searched when anything else may have come in, and jobs claimed in bursts of one attempt."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from conftest import FACES
from sidecar import storage
from sidecar.analysis import camshots, queue
from sidecar.analysis.faces import changed_outside, find_faces, load_face_recognition, locate_faces, verdict
from sidecar.analysis.references import own_references, quiz_references
from sidecar.analysis.worker import work
from sidecar.client import multipart
from sidecar.db import connect

STUDENT = "obama/obama-720p.jpg"  # a video frame: the face a third of a webcam's width, as at a desk


def face_box(image):
    found = load_face_recognition().face_locations(np.asarray(image))
    assert len(found) == 1
    return found[0]


def desk_frames(count, seed=0, width=320):
    """count frames of the student at a desk as a webcam gives them: the same picture moved by a pixel or two
    from frame to frame, with sensor noise."""
    with Image.open(FACES / STUDENT) as photo:
        photo = photo.convert("RGB")
    top, right, bottom, left = face_box(photo)
    size = 3 * (right - left)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        dx, dy = (int(v) for v in rng.integers(-4, 5, 2))
        x = (left + right) // 2 - size // 2 + dx
        y = max(0, (top + bottom) // 2 - size * 3 // 8 + dy)
        frame = photo.crop((x, y, x + size, y + size * 3 // 4)).resize((width, width * 3 // 4))
        noisy = np.asarray(frame, dtype=np.float32) + rng.normal(0, 3, (frame.height, frame.width, 3))
        frames.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
    return frames


def with_face_entering(frame, relative, visible=0.85):
    """The frame with the head of another photo pasted at its left edge, that much of the face inside the frame."""
    with Image.open(FACES / relative) as photo:
        photo = photo.convert("RGB")
    top, right, bottom, left = face_box(photo)
    margin = (right - left) // 4
    head = photo.crop((left - margin, top - margin, right + margin, bottom + margin))
    scale = frame.height / 2 / head.height
    head = head.resize((round(head.width * scale), round(head.height * scale)))
    composed = frame.copy()
    composed.paste(head, (-round(scale * (margin + (right - left) * (1 - visible))), frame.height // 4))
    return composed


def jpeg(image):
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def post_sequence(api, frames, attempt_id=1, user_id=7, start=0):
    """The frames as camshots 30 s apart, in the order given; their ids."""
    ids = []
    for number, frame in enumerate(frames, start):
        response = api.post_camshot(jpeg(frame), attempt_id=attempt_id, user_id=user_id,
                                    taken_at=int(time.time() * 1000) - 3_000_000 + number * 30_000)
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    return ids


def start(api, attempt_id, **fields):
    """An attempt begun an hour ago, long enough for a sequence 30 s apart."""
    api.put_attempt(attempt_id, started_at=int(time.time()) - 3600, **fields)


def enrol(api, relative="obama/obama.jpg", user_id=7):
    body, ctype = multipart({}, {"image": ("p.jpg", (FACES / relative).read_bytes(), "image/jpeg")})
    assert api.open("PUT", f"/api/v1/users/{user_id}/reference", body, ctype).status_code == 200


def verdicts(api, ids, attempt_id=1):
    shots = {s["id"]: s for s in api.get(f"/api/v1/attempts/{attempt_id}").json["shots"]}
    return [shots[i] for i in ids]


def full_frame_verdict(db, images, config, camshot_id):
    """The verdict of a stored camshot with its whole frame searched, as without tracking."""
    camshot = camshots.load_camshot(db, camshot_id)
    faces = find_faces(camshots.read_image(images, camshot["path"]), config)
    return verdict(faces, own_references(db, camshot["attempt_id"]),
                   quiz_references(db, camshot["quiz_id"], camshot["user_id"]), config["analysis.match_threshold"])


def tracked(db, images, camshot_id):
    """The box the camshot's face would be looked for in first, given what the database holds; or None."""
    camshot = camshots.load_camshot(db, camshot_id)
    image = camshots.read_image(images, camshot["path"])
    return camshots.tracked_face(db, images, camshot, image, camshots.Burst())


@pytest.mark.engines
def test_tracking_gives_the_verdicts_of_the_whole_frame_on_a_sequence(app, api, config):
    start(api, 1, user_id=7, quiz_id=11)
    start(api, 2, user_id=8, quiz_id=11)
    enrol(api)
    enrol(api, "biden/biden.jpg", user_id=8)
    frames = desk_frames(14)
    with Image.open(FACES / "biden/biden2.jpg") as photo:
        frames[6] = photo.convert("RGB").resize((320, 320)).crop((0, 40, 320, 280))  # someone else sits down
    with Image.open(FACES / "noface/coffee.png") as photo:
        frames[9] = photo.convert("RGB").resize((320, 240))  # the camera looks away
    ids = post_sequence(api, frames)
    assert work(config, until_idle=True) == len(ids)
    shots = verdicts(api, ids)
    db, images = connect(app.config["DATABASE"]), storage.image_store(config)
    try:
        for shot in shots:
            whole = full_frame_verdict(db, images, config, shot["id"])
            assert (shot["status"], shot["faces"], shot["matched_user_id"]) == (
                whole.status, whole.faces, whole.matched_user_id)
            assert shot["distance"] == pytest.approx(whole.distance, abs=0.05)
        assert [s["status"] for s in shots] == ["ok"] * 6 + ["mismatch"] + ["ok"] * 2 + ["no_face"] + ["ok"] * 4
        assert shots[6]["matched_user_id"] == 8
        # The ones tracked: after a camshot with the student's face alone and nothing else changed.
        assert [tracked(db, images, i) is not None for i in ids] == [
            False, True, True, True, True, True, False, False, True, False, False, True, True, True]
    finally:
        db.close()
    assert sorted(row for row in connect(app.config["DATABASE"]).execute("SELECT state, tries FROM jobs")) == [
        ("done", 1)] * len(ids)


@pytest.mark.engines
@pytest.mark.parametrize("other", ["biden/biden.jpg", "kit_harington/john2.jpeg"])
def test_a_second_face_entering_at_the_edge_is_several_faces(app, api, config, other):
    start(api, 1, user_id=7, quiz_id=11)
    enrol(api)
    frames = desk_frames(8)
    frames[5] = with_face_entering(frames[5], other)
    frames[6] = with_face_entering(frames[6], other, visible=0.95)  # and stays
    ids = post_sequence(api, frames)
    assert work(config, until_idle=True) == len(ids)
    shots = verdicts(api, ids)
    assert [s["status"] for s in shots] == ["ok"] * 5 + ["multiple_faces"] * 2 + ["ok"]
    assert [s["faces"] for s in shots[5:7]] == [2, 2]
    db, images = connect(app.config["DATABASE"]), storage.image_store(config)
    try:
        # The student's face alone is in its tracked region: the change at the edge is what searches the whole frame.
        camshot = camshots.load_camshot(db, ids[4])
        before = camshots.read_image(images, camshot["path"])
        box = shots[4]["boxes"][0]
        entering = camshots.read_image(images, camshots.load_camshot(db, ids[5])["path"])
        assert changed_outside(before, entering, box)
        assert tracked(db, images, ids[5]) is None and tracked(db, images, ids[3]) is not None
    finally:
        db.close()


def test_webcam_noise_and_small_moves_are_no_change_but_a_face_coming_in_is():
    frames = desk_frames(6, seed=3)
    box = face_box(frames[0])
    assert not any(changed_outside(a, b, box) for a, b in zip(frames, frames[1:]))
    assert changed_outside(frames[4], with_face_entering(frames[5], "biden/biden.jpg"), box)
    assert changed_outside(frames[4], frames[5].resize((640, 480)), box)  # another size is another picture


@pytest.mark.engines
def test_the_whole_frame_is_searched_every_so_many_camshots(app, api, config):
    start(api, 1)
    enrol(api)
    every = camshots.FULL_FRAME_EVERY
    ids = post_sequence(api, desk_frames(every + 3, seed=5))
    assert work(config, until_idle=True) == len(ids)
    assert {s["status"] for s in verdicts(api, ids)} == {"ok"}
    db, images = connect(app.config["DATABASE"]), storage.image_store(config)
    try:
        assert [number for number, i in enumerate(ids) if tracked(db, images, i) is None] == [0, every]
    finally:
        db.close()


def test_a_face_the_tracked_region_does_not_show_is_searched_for_in_the_whole_frame(config):
    frame = desk_frames(1)[0]
    whole = locate_faces(frame, config)
    assert len(whole) == 1
    assert locate_faces(frame, config, near=(0, 50, 50, 0)) == whole  # the face moved away from the corner
    near = locate_faces(frame, config, near=whole[0])
    assert len(near) == 1 and np.abs(np.subtract(near[0], whole[0])).max() < 20


# --- bursts -------------------------------------------------------------------------------

@pytest.mark.engines
def test_a_burst_claims_queued_jobs_of_one_attempt_only_once(app, api, config):
    start(api, 1, user_id=7)
    start(api, 2, user_id=8)
    frames = desk_frames(3)
    first = post_sequence(api, frames, attempt_id=1)
    second = post_sequence(api, frames, attempt_id=2, user_id=8, start=3)
    more = post_sequence(api, frames, attempt_id=1, start=6)
    db = connect(app.config["DATABASE"])
    try:
        a = queue.claim_burst(db, "a", 60, 4)
        b = queue.claim_burst(db, "b", 60, 4)
        c = queue.claim_burst(db, "c", 60, 4)
        assert [j.camshot_id for j in a] == first + more[:1]  # the oldest job's attempt, oldest first
        assert [j.camshot_id for j in b] == second
        assert [j.camshot_id for j in c] == more[1:]
        assert queue.claim_burst(db, "d", 60, 4) == []
        assert all(j.tries == 1 for j in a + b + c)
        assert queue.claim_burst(db, "e", 60, 4, now=time.time() + 61)[0].camshot_id == a[0].camshot_id  # expired
    finally:
        db.close()


@pytest.mark.engines
def test_a_worker_stopped_in_a_burst_gives_back_the_jobs_it_did_not_begin(app, api, config):
    start(api, 1)
    enrol(api)
    ids = post_sequence(api, desk_frames(6))
    db = connect(app.config["DATABASE"])

    def one_done():
        return db.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone()[0] >= 1

    try:
        assert work(config, stop=one_done) == 1
        assert sorted(db.execute("SELECT state, tries, lease_until FROM jobs").fetchall(), reverse=True) == [
            ("queued", 0, None)] * 5 + [("done", 1, None)]
    finally:
        db.close()
    assert work(config, until_idle=True) == 5
    assert {s["status"] for s in verdicts(api, ids)} == {"ok"}
    db = connect(app.config["DATABASE"])
    try:
        assert db.execute("SELECT state, tries FROM jobs").fetchall() == [("done", 1)] * 6  # each analysed once
        score = db.execute("SELECT metrics FROM scores WHERE attempt_id = 1").fetchone()[0]
    finally:
        db.close()
    assert '"pending": 0' in score and '"shots": 6' in score
