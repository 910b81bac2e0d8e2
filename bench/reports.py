"""Reports: time to render one attempt of 240 camshots (HTML, PDF) and a quiz overview of 1,000 attempts.

The data are built straight into a fresh data dir: 240 stored 640x480 PNG camshots (crops of the
shared photos, re-encoded as ingestion stores them) with analysis verdicts and face boxes, a
profile reference, 40 browser events; and 1,000 scored attempts of 240 camshot rows each for the
overview. Every figure is a whole signed request through the Flask app (signature check, nonce,
database reads, rendering, audit row), median of the rounds, beside the issue's bar; the
rendering alone (no request) is given too, so the request's own cost can be told apart.

    .venv/bin/python bench/reports.py [--rounds 7] [--pdf-rounds 3]
"""
import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import SECRET, SignedTestClient  # noqa: E402
from sidecar import create_app, storage  # noqa: E402
from sidecar.attempts import recompute_score  # noqa: E402
from sidecar.camshots import stored_palette_colors  # noqa: E402
from sidecar.config import load_config  # noqa: E402
from sidecar.db import connect, write_transaction  # noqa: E402
from sidecar.images import encode_png  # noqa: E402
from sidecar.reports.pdf import pdf_images  # noqa: E402
from sidecar.reports.report import build_report, time_zone  # noqa: E402

FACES = REPO.parent / "shared" / "testdata" / "faces"
SHOTS = 240
ATTEMPTS = 1000
START = 1_700_000_000
BARS = {"html": 0.150, "pdf": 3.0, "overview": 0.300}
# The verdict mix of a realistic attempt: mostly fine, some no-face and a few worse.
VERDICTS = ["ok"] * 80 + ["no_face"] * 10 + ["multiple_faces"] * 4 + ["mismatch"] * 4 + ["substitution"] * 2


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown")
    return f"nproc {len(os.sched_getaffinity(0))}, {model}"


def frames(config):
    """A dozen 640x480 PNGs cut from the shared photos, stored as ingestion stores them (format, level)."""
    out = []
    for path in sorted(FACES.glob("*/*.jpg"))[:12]:
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = max(640 / image.width, 480 / image.height)
            image = image.resize((round(image.width * scale) + 1, round(image.height * scale) + 1))
            out.append(encode_png(image.crop((0, 0, 640, 480)), config["storage.png_compress_level"],
                                  stored_palette_colors(config)))
    return out


def add_attempt(db, data_dir, attempt_id, user_id, quiz_id, shots, pngs=None, events=0, rng=random):
    """One attempt with `shots` camshot rows (files written only when pngs are given) and events."""
    now = time.time()
    started = START + attempt_id * 10
    db.execute("INSERT OR IGNORE INTO users (id, fullname, updated_at) VALUES (?, ?, ?)",
               [user_id, f"Student {user_id:04d} {rng.choice(['Lovelace', 'Hopper', 'Babbage', 'Turing'])}", now])
    db.execute(
        "INSERT INTO attempts (id, user_id, course_id, course_name, quiz_id, cm_id, quiz_name, started_at, "
        "finished_at, settings, created_at, updated_at) VALUES (?, ?, 3, 'Course', ?, 42, 'Quiz', ?, ?, ?, ?, ?)",
        [attempt_id, user_id, quiz_id, started, started + 30 * shots + 20,
         json.dumps({"interval_min": 20, "interval_max": 40}), now, now],
    )
    rows = []
    for index in range(shots):
        verdict = rng.choice(VERDICTS)
        camshot_id = storage.new_id()
        relative = storage.camshot_path(3, quiz_id, attempt_id, camshot_id)
        size = 0
        if pngs:
            png = pngs[index % len(pngs)]
            storage.write_durably(data_dir, relative, png, fsync=False)
            size = len(png)
        faces = {"no_face": 0, "multiple_faces": 2}.get(verdict, 1)
        boxes = [[120 + 30 * f, 300 + 160 * f, 260 + 30 * f, 160 + 160 * f] for f in range(faces)]
        rows.append([camshot_id, attempt_id, f"s{index}", (started + 5 + 30 * index) * 1000, now,
                     relative.as_posix(), size, "mismatch" if verdict == "substitution" else verdict, faces,
                     json.dumps(boxes), 0.4 if verdict == "ok" else 0.75, user_id + 1 if verdict == "substitution" else None])
    db.conn.executemany(
        "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, width, "
        "height, sha256, status, faces, boxes, distance, matched_user_id, analysed_at) "
        "VALUES (?, ?, ?, 'attempt', ?, ?, ?, ?, 640, 480, '', ?, ?, ?, ?, ?, 1)",
        rows,
    )
    kinds = ["tab_hidden", "tab_visible", "focus_lost", "focus_back"]
    db.conn.executemany(
        "INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (?, ?, ?, ?, ?)",
        [[attempt_id, kinds[i % 4], (started + 60 + 100 * (i // 2) + 20 * (i % 2)) * 1000, f"e{i}", now]
         for i in range(events)],
    )


def build(data_dir):
    config = load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET})
    app = create_app(config)
    db = connect(app.config["DATABASE"])
    rng = random.Random(4)
    pngs = frames(config)
    t0 = time.perf_counter()
    with write_transaction(db):
        add_attempt(db, data_dir, 1, 7, 11, SHOTS, pngs, events=40, rng=rng)
        reference = storage.new_id()
        storage.write_durably(data_dir, storage.reference_path(7, reference), pngs[0], fsync=False)
        db.execute("INSERT INTO reference_photos (id, user_id, source, path, bytes, created_at) "
                   "VALUES (?, 7, 'profile', ?, ?, 1)", [reference, storage.reference_path(7, reference).as_posix(),
                                                           len(pngs[0])])
        for attempt_id in range(2, ATTEMPTS + 2):
            add_attempt(db, data_dir, attempt_id, 1000 + attempt_id, 12, SHOTS, events=8, rng=rng)
        for attempt_id in range(1, ATTEMPTS + 2):
            recompute_score(db, config, attempt_id)
        for attempt_id in range(2, ATTEMPTS + 2, 3):
            db.execute("INSERT INTO reviews (attempt_id, conclusion, comment, reviewer_name, reviewed_at) "
                       "VALUES (?, ?, 'ok', 'Teacher', 1)", [attempt_id, rng.choice(["accepted", "rejected"])])
    print(f"built {ATTEMPTS + 1} attempts, {SHOTS * (ATTEMPTS + 1)} camshot rows, {SHOTS} image files "
          f"in {time.perf_counter() - t0:.1f} s")
    db.close()
    return app, config


def timed(function, rounds):
    """Median and best wall time, and median CPU time of this process (all its threads).

    On a shared machine the wall time includes waiting for a core; the CPU time does not.
    """
    walls, cpus = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pdf-rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("sidecar.requests").disabled = True  # one line per request would bury the figures
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        app, config = build(Path(tmp) / "data")
        api = SignedTestClient(app.test_client())

        def get(path):
            response = api.get(path)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            return response

        html = get("/api/v1/attempts/1/report?image_base=/img/").data
        pdf = get("/api/v1/attempts/1/report.pdf").data
        overview = get("/api/v1/quizzes/12/attempts").json
        assert overview["total"] == ATTEMPTS and html.count(b'class="ppr-shot') == SHOTS
        figures = {
            "html": timed(lambda: get("/api/v1/attempts/1/report?image_base=/img/"), args.rounds),
            "pdf": timed(lambda: get("/api/v1/attempts/1/report.pdf"), args.pdf_rounds),
            "overview": timed(lambda: get("/api/v1/quizzes/12/attempts"), args.rounds),
            "overview html": timed(lambda: get("/api/v1/quizzes/12/attempts?format=html"), args.rounds),
            "overview csv": timed(lambda: get("/api/v1/quizzes/12/attempts?format=csv"), args.rounds),
            "overview filtered": timed(lambda: get("/api/v1/quizzes/12/attempts?flagged=1&sort=-camera_off&q=hop"),
                                       args.rounds),
        }
        with app.test_request_context():
            db = connect(app.config["DATABASE"])
            report = build_report(db, config, 1, time_zone("UTC", "UTC"))
            figures["report model alone"] = timed(lambda: build_report(db, config, 1, time_zone("UTC", "UTC")),
                                                  args.rounds)
            figures["pdf thumbnails alone"] = timed(lambda: pdf_images(db, report, app.config["IMAGES"]),
                                                    args.pdf_rounds)
            db.close()
        print(f"attempt report: {SHOTS} camshots, HTML {len(html) // 1024} KiB, PDF {len(pdf) // 1024} KiB; "
              f"overview: {ATTEMPTS} attempts")
        print(f"load average during the run: {open('/proc/loadavg').read().split()[:3]} on "
              f"{len(os.sched_getaffinity(0))} cores")
        print(f"{'figure':<22}{'median':>11}{'min':>11}{'cpu':>11}{'bar':>9}{'median/bar':>12}")
        for name, (median, best, cpu) in figures.items():
            bar = BARS.get(name.split()[0]) if name in BARS or name.startswith("overview") else None
            bar_text = f"{bar * 1000:.0f} ms" if bar else ""
            ratio = f"{median / bar:.2f}" if bar else ""
            print(f"{name:<22}{median * 1000:>8.1f} ms{best * 1000:>8.1f} ms{cpu * 1000:>8.1f} ms"
                  f"{bar_text:>9}{ratio:>12}")


if __name__ == "__main__":
    main()
