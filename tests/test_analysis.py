"""Face analysis on the shared test photos: references, verdicts, substitution, identity check, queue."""
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import (
    FACES, REPO, SECRET, challenge_frames, config_env, convert_originals, face_bytes, identity_challenge, png_bytes,
    post_frames, post_identity, query, stored_keys,
)
from sidecar import camshots
from sidecar.analysis import queue
from sidecar.analysis.faces import find_faces, load_face_recognition
from sidecar.analysis.worker import work
from sidecar.attempts import load_attempt
from sidecar.cli import cli
from sidecar.client import multipart
from sidecar.db import connect

THRESHOLD = 0.6


def put_reference(api, user_id, relative):
    body, ctype = multipart({}, {"image": ("profile.jpg", face_bytes(relative, fmt="JPEG"), "image/jpeg")})
    return api.open("PUT", f"/api/v1/users/{user_id}/reference", body, ctype)


def post_shots(api, *relatives, attempt_id=1, user_id=7):
    """Camshots of these photos, returned in the order given as their ids."""
    ids = []
    for number, relative in enumerate(relatives):
        response = api.post_camshot(face_bytes(relative, width=640), attempt_id=attempt_id, user_id=user_id,
                                    taken_at=int(time.time() * 1000) - 300_000 + number * 30_000)
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    return ids


def shots_by_id(api, attempt_id=1):
    return {s["id"]: s for s in api.get(f"/api/v1/attempts/{attempt_id}").json["shots"]}


def encode(relative, config):
    with Image.open(FACES / relative) as image:
        faces = find_faces(image.convert("RGB"), config)
    assert len(faces.encodings) == 1, relative
    return faces.encodings[0]


# --- the models ------------------------------------------------------------------------

def test_models_load_and_find_a_face_in_a_fresh_process():
    script = textwrap.dedent(
        """
        from PIL import Image
        from sidecar.analysis.faces import load_face_recognition
        face_recognition = load_face_recognition()
        image = face_recognition.load_image_file(%r)
        print("faces found:", len(face_recognition.face_locations(image)))
        """ % str(FACES / "obama" / "obama.jpg")
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    # face_recognition exits with status 0 and only a hint when its models are broken: insist on the line.
    assert "faces found: 1" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


def test_a_broken_models_package_is_an_error_not_a_silent_exit():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["face_recognition_models"] = None  # what a broken install looks like to an import
        from sidecar.analysis import faces
        faces.check_models = lambda: []  # let face_recognition itself meet the broken package
        try:
            faces.load_face_recognition()
        except faces.ModelsUnavailable as error:
            print("unavailable:", error)
            sys.exit(7)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 7, result.stdout + result.stderr
    assert "unavailable: face_recognition could not load" in result.stdout


def test_loading_the_models_keeps_truncated_images_refused(api):
    load_face_recognition()
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    api.put_attempt(1)
    response = api.post_camshot(face_bytes("obama/obama2.jpg")[:-2000])
    assert response.status_code == 415 and response.json["error"] == "corrupt_image"


def test_worker_without_models_exits_loudly(tmp_path):
    broken = tmp_path / "site" / "face_recognition_models"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('models package damaged')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "PROCTORPY_STORAGE_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "worker", "--processes", "1"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "cannot analyse faces" in result.stderr and "models package damaged" in result.stderr


# --- faces and distances ------------------------------------------------------------------

def test_same_person_matches_across_photos_and_different_people_do_not(config):
    obama = encode("obama/obama.jpg", config)
    import numpy as np

    def distance(a, b):
        return float(np.linalg.norm(a - b))

    assert distance(obama, encode("obama/obama2.jpg", config)) < THRESHOLD
    assert distance(obama, encode("obama/obama-480p.jpg", config)) < THRESHOLD
    assert distance(encode("kit_harington/john1.jpeg", config), encode("kit_harington/john2.jpeg", config)) < THRESHOLD
    assert distance(obama, encode("biden/biden.jpg", config)) > THRESHOLD
    assert distance(encode("rose_leslie/img1.jpg", config), encode("kit_harington/john1.jpeg", config)) > THRESHOLD


def test_boxes_are_in_the_stored_images_pixels(config):
    with Image.open(FACES / "obama" / "obama-480p.jpg") as image:
        stored = image.convert("RGB")  # 853x480: analysed at 320 wide, boxes scaled back
    top, right, bottom, left = find_faces(stored, config).boxes[0]
    exact = load_face_recognition().face_locations(__import__("numpy").asarray(stored))[0]
    assert 0 <= left < right <= stored.width and 0 <= top < bottom <= stored.height
    # The same face as a full-size detection finds, give or take the detector's grid.
    assert all(abs(a - b) <= 0.15 * (right - left) for a, b in zip((top, right, bottom, left), exact))


# --- reference photos ---------------------------------------------------------------------

@pytest.mark.engines
def test_reference_photo_is_stored_with_its_encoding(app, api):
    response = put_reference(api, 7, "obama/obama.jpg")
    assert response.status_code == 200, response.json
    assert response.json["faces"] == 1 and response.json["replaced"] == 0
    (path, encoding, source), = query(app, "SELECT path, encoding, source FROM reference_photos WHERE user_id = 7")
    assert source == "profile" and len(encoding) == 128 * 8
    with Image.open(io.BytesIO(app.config["IMAGES"].get(path))) as stored:
        assert stored.format == "PNG" and stored.width <= 640 and not stored.info.get("exif")
    audit = query(app, "SELECT action, selection, bytes FROM audit_log")
    assert audit == [("reference_upload", '{"user_id": 7}', response.json["bytes"])]


@pytest.mark.engines
def test_a_new_reference_photo_replaces_the_old_one(app, api):
    first = put_reference(api, 7, "obama/obama.jpg").json
    second = put_reference(api, 7, "obama/obama2.jpg").json
    assert second["replaced"] == 1
    assert query(app, "SELECT id FROM reference_photos") == [(second["id"],)]
    files = stored_keys(app.config["IMAGES"], "references")
    assert [f.rsplit("/", 1)[1] for f in files] == [second["id"] + ".png"] and first["id"] != second["id"]


@pytest.mark.parametrize("relative, code", [
    ("noface/coffee.png", "no_face"),
    ("multi/two_people.jpg", "multiple_faces"),
])
def test_reference_photo_without_exactly_one_face_is_refused(app, api, relative, code):
    response = put_reference(api, 7, relative)
    assert response.status_code == 422
    assert response.json["error"] == code and "face" in response.json["message"]
    assert query(app, "SELECT count(*) FROM reference_photos") == [(0,)]
    assert stored_keys(app.config["IMAGES"], "references") == []


@pytest.mark.parametrize("path, body, status, code", [
    ("/api/v1/users/7/reference", b"not an image", 415, "not_an_image"),
    ("/api/v1/users/7/reference", None, 400, "missing_field"),
    ("/api/v1/users/seven/reference", png_bytes(), 400, "invalid_field"),
    ("/api/v1/users/0/reference", png_bytes(), 400, "invalid_field"),
    ("/api/v1/users/7/reference", png_bytes()[:60], 415, "corrupt_image"),
])
def test_bad_reference_uploads_are_refused(app, api, path, body, status, code):
    files = {} if body is None else {"image": ("p.png", body, "image/png")}
    data, ctype = multipart({}, files)
    response = api.open("PUT", path, data, ctype)
    assert response.status_code == status and response.json["error"] == code, response.json
    assert response.json["message"]
    assert query(app, "SELECT count(*) FROM reference_photos") == [(0,)]


def test_reference_needs_a_signature(client):
    data, ctype = multipart({}, {"image": ("p.jpg", face_bytes("obama/obama.jpg", fmt="JPEG"), "image/jpeg")})
    response = client.put("/api/v1/users/7/reference", data=data, content_type=ctype)
    assert response.status_code == 401


# --- verdicts -----------------------------------------------------------------------------

@pytest.mark.engines
def test_camshots_get_verdicts_against_the_profile_photo(app, api, config):
    api.put_attempt(1)
    put_reference(api, 7, "obama/obama.jpg")
    same, other, group, empty = post_shots(
        api, "obama/obama2.jpg", "biden/biden.jpg", "multi/two_people.jpg", "noface/coffee.png")
    assert all(s["status"] == "pending" for s in shots_by_id(api).values())
    assert work(config, until_idle=True) == 4
    shots = shots_by_id(api)
    assert shots[same]["status"] == "ok" and shots[same]["faces"] == 1
    assert shots[same]["distance"] < THRESHOLD
    assert shots[other]["status"] == "mismatch" and shots[other]["distance"] > THRESHOLD
    assert shots[other]["matched_user_id"] is None
    assert shots[group]["status"] == "multiple_faces" and shots[group]["faces"] == 2
    assert shots[group]["distance"] < THRESHOLD  # Obama is one of the two
    assert shots[empty]["status"] == "no_face" and shots[empty]["faces"] == 0 and shots[empty]["boxes"] == []
    for shot in shots.values():
        assert len(shot["boxes"]) == (shot["faces"] or 0)
        for top, right, bottom, left in shot["boxes"]:
            assert 0 <= left < right <= shot["width"] and 0 <= top < bottom <= shot["height"]
    assert query(app, "SELECT state, tries FROM jobs") == [("done", 1)] * 4


def test_without_any_reference_one_face_is_ok_with_no_distance(api, config):
    api.put_attempt(1)
    shot, = post_shots(api, "biden/biden2.jpg")
    work(config, until_idle=True)
    assert shots_by_id(api)[shot]["status"] == "ok" and shots_by_id(api)[shot]["distance"] is None


@pytest.mark.engines
def test_verdict_updates_the_attempts_score(app, api, config):
    api.put_attempt(1)
    put_reference(api, 7, "obama/obama.jpg")
    post_shots(api, "biden/biden.jpg", "obama/obama2.jpg")
    work(config, until_idle=True)
    score = api.get("/api/v1/attempts/1").json["score"]
    assert score is not None and score["metrics"]["shots"] == 2 and score["metrics"]["pending"] == 0


@pytest.mark.engines
def test_another_student_of_the_quiz_is_recognised(api, config):
    api.put_attempt(1, user_id=7, quiz_id=11)
    api.put_attempt(2, user_id=8, quiz_id=11)
    api.put_attempt(3, user_id=9, quiz_id=12)
    put_reference(api, 7, "obama/obama.jpg")
    put_reference(api, 8, "biden/biden.jpg")
    put_reference(api, 9, "kit_harington/john1.jpeg")
    biden, kit = post_shots(api, "biden/biden2.jpg", "kit_harington/john2.jpeg")
    group, = post_shots(api, "multi/kit_with_rose.jpg", attempt_id=2, user_id=8)
    work(config, until_idle=True)
    shots = shots_by_id(api)
    assert shots[biden]["status"] == "mismatch" and shots[biden]["matched_user_id"] == 8
    # User 9 takes another quiz: not a substitute here, only a stranger.
    assert shots[kit]["status"] == "mismatch" and shots[kit]["matched_user_id"] is None
    assert shots_by_id(api, 2)[group]["matched_user_id"] is None


@pytest.mark.engines
def test_a_helper_beside_the_student_is_recognised(api, config):
    api.put_attempt(1, user_id=7, quiz_id=11)
    api.put_attempt(2, user_id=8, quiz_id=11)
    put_reference(api, 7, "obama/obama.jpg")
    put_reference(api, 8, "biden/biden.jpg")
    group, = post_shots(api, "multi/two_people.jpg")
    work(config, until_idle=True)
    shot = shots_by_id(api)[group]
    assert shot["status"] == "multiple_faces" and shot["matched_user_id"] == 8


@pytest.mark.engines
def test_a_corrupt_file_is_unreadable_and_the_worker_goes_on(app, api, config):
    api.put_attempt(1)
    broken, good = post_shots(api, "obama/obama2.jpg", "obama/obama1.jpg")
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    (path,), = query(app, "SELECT path FROM camshots WHERE id = ?", [broken])
    images = app.config["IMAGES"]
    images.put(path, images.get(path)[:200])  # truncated in the store after its PNG was written
    assert work(config, until_idle=True) == 2
    shots = shots_by_id(api)
    assert shots[broken]["status"] == "unreadable" and "cannot be decoded" in shots[broken]["error"]
    assert shots[good]["status"] == "ok"


@pytest.mark.engines
def test_a_missing_file_is_unreadable(app, api, config):
    api.put_attempt(1)
    shot, = post_shots(api, "obama/obama2.jpg")
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    (path,), = query(app, "SELECT path FROM camshots WHERE id = ?", [shot])
    app.config["IMAGES"].delete(path)
    work(config, until_idle=True)
    assert shots_by_id(api)[shot]["status"] == "unreadable" and "missing" in shots_by_id(api)[shot]["error"]


# --- the queue ----------------------------------------------------------------------------

@pytest.mark.engines
def test_a_dead_workers_job_is_retried_after_its_lease(app, api, config):
    api.put_attempt(1)
    shot, = post_shots(api, "obama/obama2.jpg")
    db = connect(app.config["DATABASE"])
    try:
        job = queue.claim(db, "crashed-worker", lease_seconds=60)
        assert job.camshot_id == shot and job.tries == 1
        assert queue.claim(db, "another", lease_seconds=60) is None  # leased: nobody else takes it
        assert queue.claim(db, "another", lease_seconds=60, now=time.time() + 61).camshot_id == shot
        assert queue.complete(db, job) is False  # the dead worker's late verdict is not recorded
    finally:
        db.close()
    db = connect(app.config["DATABASE"])
    try:
        db.execute("UPDATE jobs SET lease_until = 0")  # the second worker died too
    finally:
        db.close()
    assert work(config, until_idle=True) == 1
    assert query(app, "SELECT state, tries FROM jobs") == [("done", 3)]
    assert shots_by_id(api)[shot]["status"] == "ok"


@pytest.mark.engines
def test_a_job_that_keeps_killing_workers_becomes_unreadable(app, api, config):
    api.put_attempt(1)
    shot, = post_shots(api, "obama/obama2.jpg")
    db = connect(app.config["DATABASE"])
    try:
        now = time.time()
        for attempt in range(config["analysis.max_tries"]):
            assert queue.claim(db, f"doomed-{attempt}", lease_seconds=1, now=now + 2 * attempt) is not None
            assert queue.fail_abandoned(db, config["analysis.max_tries"], now=now + 2 * attempt) == []
        assert queue.fail_abandoned(db, config["analysis.max_tries"], now=now + 100) == [1]
        assert queue.claim(db, "another", lease_seconds=1, now=now + 100) is None
    finally:
        db.close()
    shot_row = shots_by_id(api)[shot]
    assert shot_row["status"] == "unreadable" and "3 tries" in shot_row["error"]
    assert query(app, "SELECT state FROM jobs") == [("failed",)]


@pytest.mark.engines
def test_a_failing_job_is_given_back_then_failed_at_its_last_try(app, api, config):
    api.put_attempt(1)
    shot, = post_shots(api, "obama/obama2.jpg")
    db = connect(app.config["DATABASE"])
    try:
        for attempt in range(1, config["analysis.max_tries"] + 1):
            job = queue.claim(db, "w", lease_seconds=60)
            assert job.tries == attempt
            queue.release(db, job, "OperationalError: disk I/O error", config["analysis.max_tries"])
    finally:
        db.close()
    shot_row = shots_by_id(api)[shot]
    assert shot_row["status"] == "unreadable" and "disk I/O error" in shot_row["error"]


@pytest.mark.engines
def test_queue_depth_and_age_in_healthz_and_check(app, api, client, config):
    api.put_attempt(1)
    post_shots(api, "obama/obama2.jpg", "noface/coffee.png")
    health = client.get("/healthz").json["queue"]
    assert health["depth"] == 2 and health["oldest_age_seconds"] >= 0
    env = {"PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir), "PROCTORPY_SECRET": SECRET, **config_env(config)}
    result = CliRunner().invoke(cli, ["check"], env=env)
    assert "analysis queue: 2 job(s)" in result.output
    work(config, until_idle=True)
    assert client.get("/healthz").json["queue"] == {"depth": 0, "oldest_age_seconds": 0}
    assert "analysis queue: 0 job(s)" in CliRunner().invoke(cli, ["check"], env=env).output


@pytest.mark.engines
def test_a_killed_worker_process_loses_nothing(app, api, config, tmp_path):
    api.put_attempt(1)
    ids = post_shots(api, *["obama/obama2.jpg", "biden/biden.jpg", "noface/coffee.png", "obama/obama1.jpg"] * 3)
    env = {**os.environ, "PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir), "PROCTORPY_SECRET": SECRET,
           **config_env(config),
           "PROCTORPY_ANALYSIS_LEASE_SECONDS": "2", "PROCTORPY_ANALYSIS_POLL_SECONDS": "0.1"}
    command = [sys.executable, "-m", "sidecar.cli", "worker", "--processes", "1"]
    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            states = dict(query(app, "SELECT state, count(*) FROM jobs GROUP BY state"))
            if states.get("done") and states.get("running"):
                break
            time.sleep(0.005)
        first.kill()  # SIGKILL in the middle of a job
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    killed = {row[0] for row in query(app, "SELECT camshot_id FROM jobs WHERE state = 'running'")}
    assert killed  # the job it was in, and those claimed with it (worker.BURST)
    second = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and query(app, "SELECT count(*) FROM jobs WHERE state != 'done'") != [(0,)]:
            time.sleep(0.2)
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert second.returncode == 0  # SIGTERM lets it finish its job and exit cleanly
    tries = dict(query(app, "SELECT camshot_id, tries FROM jobs WHERE state = 'done'"))
    assert sorted(tries) == sorted(ids)
    assert all(t == (2 if c in killed else 1) for c, t in tries.items())
    assert all(s["status"] != "pending" for s in shots_by_id(api).values())

@pytest.mark.engines
def test_attempt_lists_its_reference_photos_and_no_one_elses(app, api):
    """Moodle's image proxy serves an attempt's report images only if the attempt lists them."""
    api.put_attempt(1, identity_check="match")
    api.put_attempt(2, user_id=8, identity_check="match")
    own = put_reference(api, 7, "obama/obama.jpg").json["id"]
    other = put_reference(api, 8, "biden/biden.jpg").json["id"]
    identity = post_identity(api, "obama/obama1.jpg").json["id"]

    listed = api.get("/api/v1/attempts/1").json["references"]
    # The attempt's own copy of the profile photo it was judged against, the profile photo today, its identity photo.
    frozen, = [r["id"] for r in listed if r["role"] == "judged_against"]
    assert [(r["id"], r["source"], r["role"]) for r in listed] == [
        (frozen, "profile", "judged_against"), (own, "profile", "profile_today"), (identity, "identity", "identity")]
    assert [r["id"] for r in api.get("/api/v1/attempts/2").json["references"]] == [other]
    for photo in listed:
        assert api.get(f"/api/v1/camshots/{photo['id']}/image?size=thumb").status_code == 200
    # Every image the report links to is one the attempt lists.
    detail = api.get("/api/v1/attempts/1").json
    report = api.get("/api/v1/attempts/1/report?image_base=/img/").get_data(as_text=True)
    linked = set(re.findall(r"/img/([0-9a-f]{20})", report))
    assert frozen in linked and linked <= {s["id"] for s in detail["shots"]} | {r["id"] for r in listed}


# --- the identity check --------------------------------------------------------------------

@pytest.mark.engines
def test_identity_check_matches_the_profile_photo(app, api):
    api.put_attempt(1, identity_check="match")
    put_reference(api, 7, "obama/obama.jpg")
    response = post_identity(api, "obama/obama1.jpg")
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["passed"] is True and answer["faces"] == 1 and answer["reference"] == "profile"
    # Synchronous: the verdict is in the answer itself, no worker had to run (its speed is measured in bench/).
    assert answer["distance"] < THRESHOLD and "matches" in answer["message"]
    (photo_id, attempt_id, path), = query(
        app, "SELECT id, attempt_id, path FROM reference_photos WHERE source = 'identity'")
    (shot_path,), = query(app, "SELECT path FROM camshots WHERE id = ?", [answer["id"]])
    assert (photo_id, attempt_id) == (answer["id"], 1)
    # The reference owns a copy, so purging or exporting counts each file once per row.
    images = app.config["IMAGES"]
    assert path != shot_path and images.get(path) == images.get(shot_path)
    assert query(app, "SELECT state FROM jobs") == [("done",)]
    shot = shots_by_id(api)[answer["id"]]
    assert shot["kind"] == "identity" and shot["status"] == "ok"


@pytest.mark.parametrize("check, relative, passed, word", [
    ("match", "biden/biden.jpg", False, "does not match"),
    ("match", "noface/coffee.png", False, "not seen clearly"),  # the frames show no face to follow the challenge
    ("match", "multi/two_people.jpg", False, "alone"),
    ("face", "biden/biden.jpg", True, "found"),
    ("face", "multi/kit_with_rose.jpg", False, "alone"),
    ("none", "biden/biden.jpg", True, "taken"),
])
def test_identity_check_follows_the_quiz_setting(app, api, check, relative, passed, word):
    api.put_attempt(1, identity_check=check)
    put_reference(api, 7, "obama/obama.jpg")
    answer = post_identity(api, relative).json
    assert answer["passed"] is passed and word in answer["message"], answer
    assert query(app, "SELECT count(*) FROM reference_photos WHERE source = 'identity'") == [(0,)]
    # The profile photo, and the attempt's frozen copy of it once a photo was judged: frames refused by the
    # liveness check store no photo, and the reference is frozen at the attempt's first judged photo.
    assert len(stored_keys(app.config["IMAGES"], "references")) == (2 if answer["id"] else 1)


@pytest.mark.engines
def test_identity_photo_without_a_profile_photo_becomes_the_reference_when_a_face_suffices(api, config):
    api.put_attempt(1, identity_check="face")
    answer = post_identity(api, "obama/obama1.jpg").json
    assert answer["passed"] is True and answer["reference"] == "none" and answer["distance"] is None
    # The identity photo is now the attempt's reference: later camshots are compared with it.
    same, other = post_shots(api, "obama/obama2.jpg", "biden/biden.jpg")
    work(config, until_idle=True)
    shots = shots_by_id(api)
    assert shots[same]["status"] == "ok" and shots[same]["distance"] < THRESHOLD
    assert shots[other]["status"] == "mismatch"


@pytest.mark.engines
def test_identity_photo_sent_twice_is_stored_and_answered_once(app, api):
    api.put_attempt(1)
    challenge = identity_challenge(api).json
    frames = challenge_frames("obama/obama1.jpg", challenge["kind"])
    first = post_frames(api, frames, challenge["id"], client_shot_id="id-1")
    again = post_frames(api, frames, challenge["id"], client_shot_id="id-1")  # the answer was lost: sent again
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json == again.json
    assert query(app, "SELECT count(*) FROM camshots") == [(1,)]


@pytest.mark.engines
def test_identity_photos_spend_the_attempt_s_camshot_allowance(app, api, config):
    config["capture.max_shots_per_minute"] = 2
    api.put_attempt(1, identity_check="match")
    put_reference(api, 7, "biden/biden.jpg")  # the live face is not the student's: each check is refused
    assert api.post_camshot(png_bytes(64, 48), client_shot_id="shot-1").status_code == 201
    assert post_identity(api, "obama/obama1.jpg", client_shot_id="id-1").json["passed"] is False
    over = post_identity(api, "obama/obama1.jpg", client_shot_id="id-2")
    # At most the refill time of one upload: the checks took seconds of it.
    assert over.status_code == 429 and 0 < int(over.headers["Retry-After"]) <= 30
    assert post_identity(api, "obama/obama1.jpg", client_shot_id="id-1").status_code == 200  # a retry spends nothing
    assert query(app, "SELECT count(*) FROM camshots") == [(2,)]


@pytest.mark.engines
def test_identity_photo_held_by_a_stalled_worker_is_answered_503_then_analysed(app, api, config):
    api.put_attempt(1, identity_check="face")
    db = connect(app.config["DATABASE"])
    try:
        # Stored as the identity endpoint stores it, then leased by a worker that stalls before its verdict.
        fields = {"attempt_id": 1, "user_id": 7, "taken_at": int(time.time() * 1000), "client_shot_id": "id-1",
                  "kind": "identity"}
        camshots.store(db, config, app.config["IMAGES"], load_attempt(db, 1), fields,
                       face_bytes("obama/obama1.jpg"))
        queue.claim(db, "stalled", lease_seconds=600)
    finally:
        db.close()
    response = post_identity(api, "obama/obama1.jpg", client_shot_id="id-1")
    assert response.status_code == 503 and response.json["error"] == "analysis_pending"
    db = connect(app.config["DATABASE"])
    try:
        db.execute("UPDATE jobs SET lease_until = 0")  # the stalled worker's lease runs out
    finally:
        db.close()
    answer = post_identity(api, "obama/obama1.jpg", client_shot_id="id-1").json
    assert answer["passed"] is True and answer["faces"] == 1


@pytest.mark.parametrize("fields, image, status, code", [
    ({"taken_at": 1, "client_shot_id": "x", "challenge_id": "c"}, None, 400, "missing_field"),
    ({"user_id": 7, "taken_at": 1, "client_shot_id": "x"}, None, 400, "missing_field"),
    ({"user_id": 7, "taken_at": "soon", "client_shot_id": "x", "challenge_id": "c"}, None, 400, "invalid_field"),
    ({"user_id": 7, "taken_at": 1, "client_shot_id": "has space", "challenge_id": "c"}, None, 400, "invalid_field"),
    ({"user_id": 7, "taken_at": 1, "client_shot_id": "x", "challenge_id": "has space"}, None, 400, "invalid_field"),
    ({"user_id": 8, "taken_at": 1, "client_shot_id": "x", "challenge_id": "c"}, None, 409, "attempt_user_mismatch"),
    ({"user_id": 7, "taken_at": "now", "client_shot_id": "x", "challenge_id": "c"}, b"GIF89a not accepted", 415,
     "not_an_image"),
    ({"user_id": 7, "taken_at": "now", "client_shot_id": "x", "challenge_id": "c"}, b"", 415, "empty_image"),
])
def test_bad_identity_uploads_are_refused(app, api, fields, image, status, code):
    api.put_attempt(1)
    if fields.get("taken_at") == "now":  # the image is refused, not the time it was taken
        fields = {**fields, "taken_at": int(time.time() * 1000)}
    frame = ("f.png", image if image is not None else png_bytes(), "image/png")
    body, ctype = multipart(fields, {"frame": [frame] * 6})
    response = api.open("POST", "/api/v1/attempts/1/identity", body, ctype)
    assert response.status_code == status and response.json["error"] == code, response.json
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]


@pytest.mark.engines
def test_identity_photo_after_a_passing_check_is_refused_and_not_stored(app, api):
    api.put_attempt(1, identity_check="face")
    failed = post_identity(api, "multi/kit_with_rose.jpg", client_shot_id="id-1").json  # two faces: refused
    challenge = identity_challenge(api).json
    frames = challenge_frames("obama/obama1.jpg", challenge["kind"])
    passed = post_frames(api, frames, challenge["id"], client_shot_id="id-2").json
    assert (failed["passed"], passed["passed"]) == (False, True)  # a failed check may be retried
    late = post_identity(api, "biden/biden.jpg", client_shot_id="id-3")
    assert late.status_code == 409 and late.json["error"] == "identity_already_passed", late.json
    assert post_frames(api, frames, challenge["id"], client_shot_id="id-2").json == passed  # answered again
    assert query(app, "SELECT count(*) FROM camshots WHERE kind = 'identity'") == [(1,)]
    assert query(app, "SELECT count(*) FROM reference_photos WHERE source = 'identity'") == [(1,)]


def test_identity_photo_of_a_finished_attempt_is_refused(app, api):
    api.put_attempt(1, identity_check="face")
    assert api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": int(time.time())}).status_code == 200
    response = post_identity(api, "obama/obama1.jpg")
    assert response.status_code == 409 and response.json["error"] == "attempt_finished", response.json
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]


def test_identity_for_an_unknown_attempt_is_refused(app, api):
    response = post_identity(api, "obama/obama1.jpg", attempt_id=99)
    assert response.status_code == 409 and response.json["error"] == "unknown_attempt"
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]


def test_identity_without_frames_is_refused(api):
    api.put_attempt(1)
    body, ctype = multipart({"user_id": 7, "taken_at": int(time.time() * 1000), "client_shot_id": "x",
                             "challenge_id": identity_challenge(api).json["id"]}, {})
    response = api.open("POST", "/api/v1/attempts/1/identity", body, ctype)
    assert response.status_code == 400 and response.json["error"] == "too_few_frames"
    assert "'frame'" in response.json["message"]


# --- the workers beside the server ---------------------------------------------------------

@pytest.mark.engines
@pytest.mark.slow
def test_a_burst_of_camshots_drains_each_analysed_once(tmp_path, backend_env):
    from conftest import LiveSidecar
    from concurrent.futures import ThreadPoolExecutor

    sidecar = LiveSidecar(tmp_path / "live", env={**backend_env,
                                                  "PROCTORPY_ANALYSIS_WITH_SERVER": "true",
                                                  "PROCTORPY_ANALYSIS_WORKERS": "2",
                                                  "PROCTORPY_ANALYSIS_POLL_SECONDS": "0.1"}).start()
    try:
        sidecar.client.put_attempt(1, user_id=7, user_fullname="Ada", course_id=3, quiz_id=11, cm_id=42,
                                   started_at=int(time.time()) - 60)
        photos = [face_bytes(p, width=320) for p in
                  ("obama/obama2.jpg", "biden/biden.jpg", "noface/coffee.png", "multi/two_people.jpg")]
        burst = 40

        def send(number):
            status, body = sidecar.client.post_camshot(1, 7, int(time.time() * 1000), photos[number % 4],
                                                       client_shot_id=f"burst-{number}")
            assert status == 201
            return body["id"]

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(send, range(burst)))
        deadline = time.time() + 180
        while time.time() < deadline:
            with __import__("urllib.request").request.urlopen(sidecar.url + "/healthz") as response:
                if json.load(response)["queue"]["depth"] == 0:
                    break
            time.sleep(0.2)
        shots = {s["id"]: s for s in sidecar.client.get_attempt(1)["shots"]}
        assert sorted(shots) == sorted(ids)  # none lost
        assert all(s["status"] in ("ok", "no_face", "multiple_faces") for s in shots.values())
        db = connect(sidecar.database)
        try:
            jobs = db.execute("SELECT state, tries, worker FROM jobs").fetchall()
        finally:
            db.close()
        assert len(jobs) == burst and all(state == "done" and tries == 1 for state, tries, _ in jobs)  # none twice
        assert len({worker for _, _, worker in jobs}) == 2  # both workers took part
        workers = {int(w.rsplit(":", 1)[1]) for _, _, w in jobs}
        for pid in workers:
            niceness = subprocess.run(["ps", "-o", "ni=", "-p", str(pid)], capture_output=True, text=True).stdout
            assert int(niceness) >= 10  # analysis yields the cores to ingestion
    finally:
        sidecar.stop()
