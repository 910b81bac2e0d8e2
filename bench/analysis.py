"""Face analysis: per-shot time against the bare library calls, queue throughput, and accuracy.

1. Per-shot time on one core (this process pinned to one CPU): the pipeline (read the stored
   PNG, scale to analysis.width, detect, encode, match against the references in the database)
   beside the bare face_recognition calls (face_locations + face_encodings on the same decoded
   pixels), interleaved frame by frame so both see the same noise. Frames are 320x240 and
   640x480 crops of the shared photos, stored as ingestion stores them.
2. End to end on one core: a burst of one attempt's camshots (one person at one desk, as a
   webcam sends them: JPEG at the plugin's default 320 pixels, and at 640) ingested through
   the signed API, then drained by the worker's own loop (queue, database, image read,
   analysis, verdict, score), against the bare calls on the same decoded frames. Both as
   this process's CPU time (which other load on the machine hardly moves) and wall time.
3. Throughput: a burst of camshots ingested through the signed API, then `proctorpy worker`
   with the default worker count drains it; shots/s, and a check that none was lost or
   analysed twice.
4. Verification accuracy over every same/different pair of the shared single-person photos,
   each taken through ingestion and analysis at default settings.

    .venv/bin/python bench/analysis.py [--rounds 3] [--burst 200] [--sequence 40]
"""
import argparse
import io
import itertools
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import SECRET, SignedTestClient, convert_original  # noqa: E402
from sidecar import camshots as stored_camshots, create_app, storage  # noqa: E402
from sidecar.analysis import camshots  # noqa: E402
from sidecar.analysis.faces import find_faces, load_face_recognition  # noqa: E402
from sidecar.analysis.worker import work, worker_count  # noqa: E402
from sidecar.client import multipart  # noqa: E402
from sidecar.config import load_config  # noqa: E402
from sidecar.db import connect  # noqa: E402
from sidecar.images import decode_upload, encode_png, fit_width  # noqa: E402

FACES = REPO.parent / "shared" / "testdata" / "faces"
SINGLE = ["obama", "biden", "alex_lacamoire", "kit_harington", "rose_leslie", "lin_manuel_miranda", "eileen_collins"]
OTHER_STUDENTS = 100  # references of other students in the quiz, searched for a substitute on every shot


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown")
    return f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {model}"


def photos():
    """(identity, path) of every single-person photo; misc/32bit.png is obama2.jpg again."""
    return [(folder, path) for folder in SINGLE for path in sorted((FACES / folder).iterdir())]


def frames(face_recognition):
    """A webcam-like 4:3 crop around the face of each photo that shows one, at 640x480."""
    result = []
    for _, path in photos():
        with Image.open(path) as image:
            image = image.convert("RGB")
        found = face_recognition.face_locations(np.asarray(image))
        if len(found) != 1:
            continue
        result.append(image.crop(webcam_window(image, found[0])).resize((640, 480), Image.Resampling.LANCZOS))
    return result


def webcam_window(image, box, dx=0, dy=0):
    """The 4:3 window of a photo a webcam would see of this face (three faces wide), moved by (dx, dy)."""
    top, right, bottom, left = box
    width = min(image.width, 3 * (right - left), image.height * 4 // 3)
    height = width * 3 // 4
    cx, cy = (left + right) // 2 + dx, (top + bottom) // 2 + dy
    x = min(max(cx - width // 2, 0), image.width - width)
    y = min(max(cy - height // 2, 0), image.height - height)
    return x, y, x + width, y + height


def webcam_sequence(face_recognition, path, width, count, seed=0):
    """count JPEGs of one person at one desk, as the capture module sends them (quality 0.85, width wide):
    the same photo moved by a few pixels from shot to shot, with a webcam's sensor noise."""
    with Image.open(path) as image:
        image = image.convert("RGB")
    box = face_recognition.face_locations(np.asarray(image))[0]
    rng = np.random.default_rng(seed)
    shift = max(1, (box[1] - box[3]) // 25)  # a few pixels of the stored frame
    result = []
    for _ in range(count):
        dx, dy = (int(v) for v in rng.integers(-shift, shift + 1, 2))
        frame = image.crop(webcam_window(image, box, dx, dy)).resize((width, width * 3 // 4), Image.Resampling.LANCZOS)
        noisy = np.asarray(frame, dtype=np.float32) + rng.normal(0, 3, (frame.height, frame.width, 3))
        out = io.BytesIO()
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=85)
        result.append(out.getvalue())
    return result


def stored(image, config):
    """The PNG ingestion would store for this frame."""
    return encode_png(image, config["storage.png_compress_level"],
                      config["storage.palette_colors"] if config["storage.format"] == "palette" else None)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(values):
    ms = [v * 1000 for v in values]
    return f"median {statistics.median(ms):6.1f} ms, p95 {percentile(ms, 0.95):6.1f} ms"


def new_app(data_dir, **overrides):
    # A burst is what an attempt's allowance holds back after an outage: here it is taken in at once.
    config = load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET,
                                                "storage.fsync": False, "capture.max_shots_per_minute": 100_000,
                                                **overrides})
    return create_app(config), config


def per_shot(face_recognition, frame_images, rounds, workdir):
    """Pipeline and bare times per frame size, one core."""
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    print(f"\n## 1. Per-shot analysis time, one core (pinned to CPU {cpu}), {len(frame_images)} frames x {rounds} rounds")
    app, config = new_app(workdir / "latency")
    api = SignedTestClient(app.test_client())
    api.put_attempt(1, user_id=7, quiz_id=11, started_at=int(time.time()) - 3600)
    enrol(api, app, config)
    for width, height in ((320, 240), (640, 480)):
        shots = []
        for number, frame in enumerate(frame_images):
            png = stored(frame.resize((width, height), Image.Resampling.LANCZOS), config)
            response = api.post_camshot(png, attempt_id=1, user_id=7, taken_at=(int(time.time()) - 3600) * 1000 + number)
            db = connect(app.config["DATABASE"])
            shot = camshots.load_camshot(db, response.json["id"])
            # What the worker does before it analyses a camshot kept as received: its PNG written.
            convert_original(db, storage.image_store(config), shot["id"], shot["path"])
            shots.append(shot)
            db.close()
        configs = {"pipeline": config,
                   "pipeline at full width": load_config(environ={}, overrides={**config, "analysis.width": width})}
        if width <= config["analysis.width"]:
            del configs["pipeline at full width"]
        times = {"bare": []} | {name: [] for name in configs}
        db, images = connect(app.config["DATABASE"]), storage.image_store(config)
        for _ in range(rounds):
            for shot in shots:
                with Image.open(io.BytesIO(images.get(shot["path"]))) as image:
                    pixels = np.asarray(image.convert("RGB"))
                started = time.perf_counter()
                found = face_recognition.face_locations(pixels, config["analysis.upsample"], config["analysis.model"])
                face_recognition.face_encodings(pixels, found)
                times["bare"].append(time.perf_counter() - started)
                for name, variant in configs.items():
                    started = time.perf_counter()
                    camshots.analyse(db, variant, images, shot)
                    times[name].append(time.perf_counter() - started)
        db.close()
        print(f"\n{width}x{height} frames (analysis.width {config['analysis.width']}, upsample "
              f"{config['analysis.upsample']}, {config['analysis.model']}):")
        bare = statistics.median(times["bare"])
        for name, values in times.items():
            ratio = "" if name == "bare" else f", {statistics.median(values) / bare:.2f}x bare"
            print(f"  {name:24s} {summary(values)}{ratio}")
    os.sched_setaffinity(0, set(range(os.cpu_count())))


def enrol(api, app, config):
    """User 7's profile photo and OTHER_STUDENTS references of other students in quiz 11."""
    body, ctype = multipart({}, {"image": ("p.jpg", (FACES / "obama" / "obama.jpg").read_bytes(), "image/jpeg")})
    assert api.open("PUT", "/api/v1/users/7/reference", body, ctype).status_code == 200
    db = connect(app.config["DATABASE"])
    blob = db.execute("SELECT encoding FROM reference_photos WHERE user_id = 7").fetchone()[0]
    rng = np.random.default_rng(1)
    with db.conn:
        for user in range(1000, 1000 + OTHER_STUDENTS):
            db.execute("INSERT INTO users (id, updated_at) VALUES (?, 0)", [user])
            db.execute("INSERT INTO attempts (id, user_id, course_id, quiz_id, cm_id, started_at, created_at, "
                       "updated_at) VALUES (?, ?, 3, 11, 42, 0, 0, 0)", [user, user])
            encoding = np.frombuffer(blob, "<f8") + rng.normal(0, 0.08, 128)  # far from user 7, distinct
            db.execute("INSERT INTO reference_photos (id, user_id, source, path, bytes, encoding, created_at) "
                       "VALUES (?, ?, 'profile', 'none', 0, ?, 0)", [f"ref{user}", user, encoding.astype("<f8").tobytes()])
    db.close()


def end_to_end(face_recognition, burst, rounds, workdir):
    """A worker draining one attempt's burst against the bare calls on the same frames, one core."""
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    print(f"\n## 2. End to end, one core (pinned to CPU {cpu}): a burst of {burst} camshots of one attempt "
          f"(one person, {rounds} rounds), drained by one worker loop, against the bare calls on the same frames")
    app, config = new_app(workdir / "end_to_end")
    api = SignedTestClient(app.test_client())
    enrol(api, app, config)
    attempt_id = 0
    for width in (320, 640):
        jpegs = webcam_sequence(face_recognition, FACES / "obama" / "obama-720p.jpg", width, burst)
        worker, bare, encoding, boxes, verdicts, load = [], [], [], [], {}, []
        for number in range(rounds):
            attempt_id += 1
            load.append(os.getloadavg()[0])
            api.put_attempt(attempt_id, user_id=7, quiz_id=11, started_at=int(time.time()) - 3600)
            db = connect(app.config["DATABASE"])
            pixels = []
            for shot, jpeg in enumerate(jpegs):
                response = api.post_camshot(jpeg, attempt_id=attempt_id, user_id=7,
                                            taken_at=(int(time.time()) - 3600) * 1000 + shot * 30_000)
                assert response.status_code == 201, response.json
                path = camshots.load_camshot(db, response.json["id"])["path"]
                # The pixels the worker will store and analyse: its PNG, made here as the worker will make it.
                png = stored_camshots.read_png(db, storage.image_store(config), response.json["id"], path)
                with Image.open(io.BytesIO(png)) as image:
                    pixels.append(np.asarray(image.convert("RGB")))

            def drain():
                started = time.perf_counter(), time.process_time()
                assert work(config, until_idle=True) == burst
                worker.append(((time.perf_counter() - started[0]) / burst, (time.process_time() - started[1]) / burst))

            def bare_calls():
                started = time.perf_counter(), time.process_time()
                for frame in pixels:
                    found = face_recognition.face_locations(frame, config["analysis.upsample"], config["analysis.model"])
                    face_recognition.face_encodings(frame, found)
                    boxes.append(found)
                bare.append(((time.perf_counter() - started[0]) / burst, (time.process_time() - started[1]) / burst))

            def encodings_alone():
                # What every camshot costs however its face is found: landmarks and the encoding of the face.
                started = time.perf_counter(), time.process_time()
                for frame, found in zip(pixels, boxes[-burst:]):
                    face_recognition.face_encodings(frame, found)
                encoding.append(((time.perf_counter() - started[0]) / burst, (time.process_time() - started[1]) / burst))

            for step in ((drain, bare_calls, encodings_alone) if number % 2 == 0
                         else (bare_calls, encodings_alone, drain)):
                step()
            tries = [row[0] for row in db.execute(
                "SELECT j.tries FROM jobs j JOIN camshots c ON c.id = j.camshot_id WHERE c.attempt_id = ?",
                [attempt_id])]
            assert tries == [1] * burst, tries
            for status, count in db.execute("SELECT status, count(*) FROM camshots WHERE attempt_id = ? "
                                            "GROUP BY status", [attempt_id]):
                verdicts[status] = verdicts.get(status, 0) + count
            db.close()
        print(f"\n{width}x{width * 3 // 4} JPEG camshots (load average {min(load):.1f} to {max(load):.1f}):")
        for clock, name in ((1, "CPU"), (0, "wall")):
            bare_times, worker_times = [b[clock] for b in bare], [w[clock] for w in worker]
            ratios = ", ".join(f"{w / b:.2f}" for w, b in zip(worker_times, bare_times))
            print(f"  {name:4s} bare calls per shot  {summary(bare_times)}")
            print(f"  {name:4s} worker, end to end   {summary(worker_times)}, "
                  f"{statistics.median(worker_times) / statistics.median(bare_times):.2f}x bare (per round {ratios})")
            encoding_times = [e[clock] for e in encoding]
            print(f"  {name:4s} the encoding alone   {summary(encoding_times)}, "
                  f"{statistics.median(encoding_times) / statistics.median(bare_times):.2f}x bare")
        print(f"  verdicts: {verdicts}; every job analysed once")
    os.sched_setaffinity(0, set(range(os.cpu_count())))


def throughput(frame_images, burst, workdir):
    print(f"\n## 3. Queue throughput: {burst} camshots (640x480), `proctorpy worker` with the default count")
    app, config = new_app(workdir / "burst")
    api = SignedTestClient(app.test_client())
    api.put_attempt(1, user_id=7, quiz_id=11, started_at=int(time.time()) - 3600)
    enrol(api, app, config)
    pngs = [stored(frame, config) for frame in frame_images]
    for number in range(burst):
        response = api.post_camshot(pngs[number % len(pngs)], attempt_id=1, user_id=7,
                                    taken_at=(int(time.time()) - 3600) * 1000 + number * 15_000)
        assert response.status_code == 201, response.json
    env = {**os.environ, "PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir), "PROCTORPY_SECRET": SECRET,
           "PROCTORPY_ANALYSIS_POLL_SECONDS": "0.05"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
    load = os.getloadavg()[0]
    workers = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "worker"], cwd=REPO, env=env,
                               stderr=subprocess.DEVNULL)
    db = connect(app.config["DATABASE"])

    def states():
        return dict(db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())

    try:
        while states().get("queued", 0) == burst:
            time.sleep(0.01)
        started = time.perf_counter()
        while states().get("done", 0) + states().get("failed", 0) < burst:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        workers.terminate()
        workers.wait()
    # CPU the workers used (their pool waits for them, so it is counted once ours is waited for):
    # what dedicated cores would need, whatever else the machine was running meanwhile.
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = used.ru_utime + used.ru_stime - cpu_before
    tries = [row[0] for row in db.execute("SELECT tries FROM jobs")]
    pending = db.execute("SELECT count(*) FROM camshots WHERE status = 'pending'").fetchone()[0]
    statuses = dict(db.execute("SELECT status, count(*) FROM camshots GROUP BY status").fetchall())
    db.close()
    count = worker_count(config)
    print(f"  workers: {count}; drained in {elapsed:.1f} s: {burst / elapsed:.1f} shots/s "
          f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)")
    print(f"  worker CPU per shot, model loading included: {1000 * cpu / burst:.0f} ms; "
          f"{count} dedicated cores would drain {count * burst / cpu:.1f} shots/s")
    print(f"  jobs: {len(tries)}, analysed more than once: {sum(t > 1 for t in tries)}, left pending: {pending}")
    print(f"  verdicts: {statuses}")


def accuracy(workdir):
    config = load_config(environ={}, overrides={"storage.data_dir": str(workdir / "accuracy")})
    print(f"\n## 4. Verification at default settings (threshold {config['analysis.match_threshold']}, "
          f"width {config['analysis.width']}, upsample {config['analysis.upsample']}, storage {config['storage.format']})")
    encodings, failures = [], []
    for identity, path in photos():
        image = fit_width(decode_upload(path.read_bytes(), config), config["storage.max_width"])
        with Image.open(io.BytesIO(stored(image, config))) as again:
            faces = find_faces(again.convert("RGB"), config)
        if len(faces.encodings) == 1:
            encodings.append((identity, path.name, faces.encodings[0]))
        else:
            failures.append(f"{identity}/{path.name}: {len(faces.boxes)} faces")
    threshold = config["analysis.match_threshold"]
    same, different = [], []
    for (id_a, name_a, a), (id_b, name_b, b) in itertools.combinations(encodings, 2):
        distance = float(np.linalg.norm(a - b))
        (same if id_a == id_b else different).append((distance, f"{id_a}/{name_a} ~ {id_b}/{name_b}"))
    false_rejects = [p for p in same if p[0] > threshold]
    false_accepts = [p for p in different if p[0] <= threshold]
    pairs = len(same) + len(different)
    correct = pairs - len(false_rejects) - len(false_accepts)
    print(f"  photos: {len(encodings)} with one face; not one face: {failures or 'none'}")
    print(f"  pairs: {pairs} ({len(same)} same person, {len(different)} different)")
    print(f"  accuracy {100 * correct / pairs:.2f} %, false accepts {100 * len(false_accepts) / len(different):.2f} % "
          f"({len(false_accepts)}), false rejects {100 * len(false_rejects) / len(same):.2f} % ({len(false_rejects)})")
    print(f"  largest same-person distance {max(same)[0]:.3f} ({max(same)[1]}); "
          f"smallest different-person distance {min(different)[0]:.3f} ({min(different)[1]})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--sequence", type=int, default=40, help="camshots of one attempt drained end to end")
    parser.add_argument("--only", choices=("per-shot", "end-to-end", "throughput", "accuracy"), action="append",
                        help="run only these sections (all by default)")
    args = parser.parse_args()
    logging.getLogger("sidecar.requests").disabled = True  # one line per request would bury the figures
    print(f"# bench/analysis.py on {machine()}")
    face_recognition = load_face_recognition()
    frame_images = frames(face_recognition)
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(temp)
        sections = args.only or ("per-shot", "end-to-end", "throughput", "accuracy")
        if "per-shot" in sections:
            per_shot(face_recognition, frame_images, args.rounds, workdir)
        if "end-to-end" in sections:
            end_to_end(face_recognition, args.sequence, args.rounds, workdir)
        if "throughput" in sections:
            throughput(frame_images, args.burst, workdir)
        if "accuracy" in sections:
            accuracy(workdir)


if __name__ == "__main__":
    main()
