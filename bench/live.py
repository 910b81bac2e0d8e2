"""Live view: time GET /api/v1/quizzes/<id>/live for a quiz with 500 attempts in progress.

The data are built straight into a real SQLite file: 500 students who started between 5 and 60
minutes ago, each with a camshot row every 20 to 40 s up to now (verdicts mixed as in a real
exam, the latest few still pending analysis; some cameras quiet for minutes), focus and tab
events, and each attempt's score computed by the sidecar's own scoring; beside them 1,000
finished attempts of the same quiz and another quiz's, so the query has rows to skip. Every
figure is a whole signed request (signature, nonce, the query, JSON), through the Flask test
client and through a real `proctorpy serve` (gunicorn) on the same data; the query alone and the
quiz's overview of the same 1,500 attempts are timed in the same run for comparison.

    .venv/bin/python bench/live.py [--rounds 40] [--attempts 500]
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

from conftest import SECRET, LiveSidecar, SignedTestClient  # noqa: E402
from sidecar import create_app, live, storage  # noqa: E402
from sidecar.attempts import recompute_score  # noqa: E402
from sidecar.config import load_config  # noqa: E402
from sidecar.db import connect, write_transaction  # noqa: E402
from sidecar.images import encode_png  # noqa: E402

QUIZ = 11
FINISHED = 1000  # earlier attempts of the same quiz, finished
OTHER_QUIZ = 500  # attempts in progress at another quiz
GROUP = 30  # students of one teacher's group, named with user_ids
BAR = 0.100  # seconds: a poll every few seconds by each teacher watching must stay far below that
# The verdict mix of a realistic exam: mostly fine, some no-face and a few worse.
VERDICTS = ["ok"] * 90 + ["no_face"] * 6 + ["multiple_faces"] * 2 + ["mismatch"] + ["substitution"]


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown")
    return f"nproc {len(os.sched_getaffinity(0))}, {model}"


def add_attempt(db, rng, attempt_id, user_id, quiz_id, now, finished):
    """One attempt with its camshot rows and browser events; (the paths of its camshots, the number of events).

    The live view reads rows only: each camshot's file is a tiny PNG, there for the startup repair of
    `proctorpy serve` to find.
    """
    started = now - rng.randint(5 * 60, 60 * 60)
    quiet = rng.random() < 0.05  # a camera that stopped delivering a few minutes ago
    end = now - rng.randint(120, 600) if quiet else now - rng.randint(0, 30)
    if finished:
        started -= 86400
        end -= 86400
    db.execute("INSERT OR IGNORE INTO users (id, fullname, updated_at) VALUES (?, ?, ?)",
               [user_id, f"Student {user_id:04d} {rng.choice(['Lovelace', 'Hopper', 'Babbage', 'Turing'])}", now])
    db.execute(
        "INSERT INTO attempts (id, user_id, course_id, course_name, quiz_id, cm_id, quiz_name, started_at, "
        "finished_at, settings, created_at, updated_at) VALUES (?, ?, 3, 'Course', ?, 42, 'Quiz', ?, ?, ?, ?, ?)",
        [attempt_id, user_id, quiz_id, int(started), int(end) if finished else None,
         json.dumps({"interval_min": 20, "interval_max": 40, "threshold": 70}), now, now],
    )
    rows, at = [], started + rng.randint(5, 30)
    while at <= end:
        pending = not finished and end - at < 15  # the analysis has not caught up with the latest shot
        verdict = "pending" if pending else rng.choice(VERDICTS)
        camshot_id = storage.new_id()
        rows.append([camshot_id, attempt_id, camshot_id, int(at * 1000), at + 0.3,
                     storage.camshot_path(3, quiz_id, attempt_id, camshot_id).as_posix(),
                     "mismatch" if verdict == "substitution" else verdict,
                     {"no_face": 0, "multiple_faces": 2}.get(verdict, 1),
                     user_id + 1 if verdict == "substitution" else None])
        at += rng.randint(20, 40)
    db.conn.executemany(
        "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, width, "
        "height, sha256, status, faces, matched_user_id, analysed_at) "
        "VALUES (?, ?, ?, 'attempt', ?, ?, ?, 19000, 320, 240, '', ?, ?, ?, 1)",
        rows,
    )
    events, at = [], started
    for index in range(rng.choice([0, 0, 2, 4, 6, 10, 20])):
        kind = ["tab_hidden", "tab_visible", "focus_lost", "focus_back"][index % 4]
        at += rng.randint(60, 600) if index % 2 == 0 else rng.randint(3, 40)  # away for seconds, now and then
        if at > end:
            break
        events.append([attempt_id, kind, int(at * 1000), f"e{index}", at + 0.1])
    db.conn.executemany(
        "INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (?, ?, ?, ?, ?)", events)
    return [row[5] for row in rows], len(events)


def build(data_dir, attempts):
    config = load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET})
    app = create_app(config)
    db = connect(app.config["DATABASE"])
    rng = random.Random(15)
    now = time.time()
    t0 = time.perf_counter()
    shots = events = 0
    plan = ([(QUIZ, False)] * attempts + [(QUIZ, True)] * FINISHED + [(QUIZ + 1, False)] * OTHER_QUIZ)
    tiny = encode_png(Image.new("RGB", (8, 6), (90, 120, 150)), 3)
    with write_transaction(db):
        for attempt_id, (quiz_id, finished) in enumerate(plan, start=1):
            paths, e = add_attempt(db, rng, attempt_id, 1000 + attempt_id, quiz_id, now, finished)
            folder = (data_dir / paths[0]).parent if paths else None
            if folder:
                folder.mkdir(parents=True)
            for relative in paths:
                (data_dir / relative).write_bytes(tiny)
            shots, events = shots + len(paths), events + e
        for attempt_id in range(1, len(plan) + 1):
            recompute_score(db, config, attempt_id)
    print(f"built {len(plan)} attempts ({attempts} in progress at the quiz timed), {shots} camshot rows, "
          f"{events} events in {time.perf_counter() - t0:.1f} s")
    db.close()
    return app, config, now


def freshen(db_path, built_at):
    """Move every time forward by the time since built_at, so that the attempts look as they did when built.

    Building takes a minute on a busy machine; without this every camera would look quiet.
    Returns the new built_at.
    """
    now = time.time()
    shift = int(now - built_at)
    db = connect(db_path)
    with write_transaction(db):
        db.execute("UPDATE attempts SET started_at = started_at + :s, finished_at = finished_at + :s", {"s": shift})
        db.execute("UPDATE camshots SET taken_at = taken_at + :ms, received_at = received_at + :s",
                   {"s": shift, "ms": 1000 * shift})
        db.execute("UPDATE events SET at = at + :ms, received_at = received_at + :s", {"s": shift, "ms": 1000 * shift})
    db.close()
    return built_at + shift


def timed(function, rounds):
    """Median, p95 and min wall time, and median CPU time of this process, over the rounds."""
    function()  # warm the page cache and the connection
    walls, cpus = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    walls.sort()
    return {"median": statistics.median(walls), "p95": walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))],
            "min": walls[0], "cpu": statistics.median(cpus)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--attempts", type=int, default=500)
    args = parser.parse_args()
    logging.getLogger("sidecar.requests").disabled = True  # one line per request would bury the figures
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        app, config, built_at = build(data_dir, args.attempts)
        built_at = freshen(app.config["DATABASE"], built_at)
        api = SignedTestClient(app.test_client())
        group = ",".join(str(1000 + i) for i in range(1, args.attempts + 1, args.attempts // GROUP))

        def get(path):
            response = api.get(path)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            return response

        answer = get(f"/api/v1/quizzes/{QUIZ}/live").json
        assert answer["count"] == args.attempts
        with_problems = sum(1 for t in answer["attempts"] if t["problems"])
        first = {p: sum(1 for t in answer["attempts"] if t["problems"][:1] == [p]) for p in live.PROBLEMS}
        print(f"live answer: {answer['count']} attempts, {with_problems} with a problem (most serious: "
              + ", ".join(f"{p} {n}" for p, n in first.items()) + "), "
              f"{len(get(f'/api/v1/quizzes/{QUIZ}/live').data) // 1024} KiB of JSON")
        figures = {
            "live, every attempt": timed(lambda: get(f"/api/v1/quizzes/{QUIZ}/live"), args.rounds),
            f"live, user_ids of {GROUP}": timed(lambda: get(f"/api/v1/quizzes/{QUIZ}/live?user_ids={group}"),
                                               args.rounds),
            "overview of the quiz": timed(lambda: get(f"/api/v1/quizzes/{QUIZ}/attempts"), args.rounds),
        }
        db = connect(app.config["DATABASE"])
        params = {"user_ids": None, "minutes": live.WINDOW_MINUTES}
        figures["live query alone"] = timed(lambda: live.live_attempts(db, config, QUIZ, params, time.time()),
                                            args.rounds)
        db.close()

        built_at = freshen(app.config["DATABASE"], built_at)
        sidecar = LiveSidecar(data_dir).start()
        try:
            def remote(path):
                status, _ = sidecar.client.request("GET", path)
                assert status == 200
            figures["live through gunicorn"] = timed(lambda: remote(f"/api/v1/quizzes/{QUIZ}/live"), args.rounds)
            figures["overview through gunicorn"] = timed(lambda: remote(f"/api/v1/quizzes/{QUIZ}/attempts"),
                                                         args.rounds)
        finally:
            sidecar.stop()
        print(f"load average after the run: {open('/proc/loadavg').read().split()[:3]} on "
              f"{len(os.sched_getaffinity(0))} cores; {args.rounds} rounds each")
        print(f"{'figure':<28}{'median':>11}{'p95':>11}{'min':>11}{'cpu':>11}{'median/bar':>12}")
        for name, f in figures.items():
            ratio = f"{f['median'] / BAR:.2f}" if name.startswith("live") else ""
            print(f"{name:<28}{f['median'] * 1000:>8.1f} ms{f['p95'] * 1000:>8.1f} ms{f['min'] * 1000:>8.1f} ms"
                  f"{f['cpu'] * 1000:>8.1f} ms{ratio:>12}")
        every, query = figures["live, every attempt"]["median"], figures["live query alone"]["median"]
        print(f"ratios in this run: live / overview {every / figures['overview of the quiz']['median']:.2f}, "
              f"query alone / whole request {query / every:.2f}, "
              f"group of {GROUP} / every attempt {figures[f'live, user_ids of {GROUP}']['median'] / every:.2f}")


if __name__ == "__main__":
    main()
