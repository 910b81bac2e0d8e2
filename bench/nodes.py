"""More than one machine: analysis throughput on SQLite + folder against PostgreSQL + S3
(a SeaweedFS started here), and with one and with two `proctorpy worker` processes, each a
process of its own as on separate hosts, all measured in one run.

For each setting, a burst of camshots (640x480 crops of the shared photos, ingested through the
signed API into a fresh database and image store, user 7 enrolled with a profile photo) is
drained by the workers; shots/s, the workers' CPU per shot, and a check that none was lost or
analysed twice. The settings take turns round after round, so that all of them see the same noise.

    .venv/bin/python bench/nodes.py [--rounds 2] [--burst 120]
"""
import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import FACES, SECRET, SignedTestClient, face_bytes, postgresql_database, settings_env  # noqa: E402
from seaweedfs import SeaweedFS  # noqa: E402
from sidecar import create_app  # noqa: E402
from sidecar.client import multipart  # noqa: E402
from sidecar.config import load_config  # noqa: E402
from sidecar.db import connect  # noqa: E402
from sidecar.views.connections import close_app  # noqa: E402

PHOTOS = ["obama/obama1.jpg", "obama/obama2.jpg", "obama/obama3.jpg", "obama/obama-480p.jpg"]
SETTINGS = [("SQLite + folder", 1), ("PostgreSQL + S3", 1), ("PostgreSQL + S3", 2)]


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown")
    return f"{os.cpu_count()} cores, {model}, load average {os.getloadavg()[0]:.1f} at the start"


def ingest(settings, data_dir, burst, frames):
    """A fresh installation of these settings holding a burst of queued camshots of user 7."""
    config = load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET,
                                                "capture.max_shots_per_minute": 1_000_000_000,
                                                **settings})
    app = create_app(config)
    api = SignedTestClient(app.test_client())
    api.put_attempt(1, user_id=7, quiz_id=11, started_at=int(time.time()) - 3600)
    body, ctype = multipart({}, {"image": ("p.jpg", (FACES / "obama" / "obama.jpg").read_bytes(), "image/jpeg")})
    assert api.open("PUT", "/api/v1/users/7/reference", body, ctype).status_code == 200
    for number in range(burst):
        response = api.post_camshot(frames[number % len(frames)], attempt_id=1, user_id=7,
                                    taken_at=(int(time.time()) - 3600) * 1000 + number * 30_000)
        assert response.status_code == 201, response.data
    location = app.config["DATABASE"]
    close_app(app)
    return location


def drain(location, env, data_dirs, burst):
    """Start a worker process per data dir and time them draining the queue; (seconds, CPU s, tries, pending)."""
    db = connect(location)

    def finished():
        return db.execute("SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')").fetchone()[0]

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [subprocess.Popen([sys.executable, "-m", "sidecar.cli", "worker", "--processes", "1"], cwd=REPO,
                                  env={**env, "PROCTORPY_STORAGE_DATA_DIR": str(data_dir)},
                                  stderr=subprocess.DEVNULL) for data_dir in data_dirs]
    try:
        while finished() == 0:
            time.sleep(0.01)
        started = time.perf_counter()
        while finished() < burst:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = used.ru_utime + used.ru_stime - before.ru_utime - before.ru_stime
    tries = [row[0] for row in db.execute("SELECT tries FROM jobs")]
    pending = db.execute("SELECT count(*) FROM camshots WHERE status = 'pending'").fetchone()[0]
    db.close()
    return elapsed, cpu, tries, pending


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--burst", type=int, default=120)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"# bench/nodes.py --rounds {args.rounds} --burst {args.burst}\nmachine: {machine()}")
    frames = [face_bytes(photo, 640) for photo in PHOTOS]
    results = {setting: [] for setting in SETTINGS}
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        store = SeaweedFS(work / "seaweedfs", bucket="bench").start()
        try:
            for round_number in range(args.rounds):
                for setting in SETTINGS:
                    name, workers = setting
                    folder = work / f"r{round_number}-{len(results[setting])}-{workers}-{name[:6]}"
                    with postgresql_database() as url:
                        settings = {} if name.startswith("SQLite") else {"database.url": url,
                                                                         **store.settings(folder.name + "/")}
                        location = ingest(settings, folder / "ingest", args.burst, frames)
                        env = {**os.environ, **settings_env(settings), "PROCTORPY_SECRET": SECRET,
                               "PROCTORPY_ANALYSIS_POLL_SECONDS": "0.05"}
                        # On SQLite + folder the workers share the one data dir; otherwise each has its own, empty.
                        data_dirs = [folder / "ingest" if name.startswith("SQLite") else folder / f"worker{n}"
                                     for n in range(workers)]
                        elapsed, cpu, tries, pending = drain(location, env, data_dirs, args.burst)
                    assert len(tries) == args.burst and pending == 0, (len(tries), pending)
                    results[setting].append((args.burst / elapsed, 1000 * cpu / args.burst, sum(t > 1 for t in tries)))
        finally:
            store.stop()
    baseline = statistics.median(r[0] for r in results[SETTINGS[0]])
    print(f"\n{'setting':20s} {'workers':>7s} {'shots/s (median)':>17s} {'CPU ms/shot':>12s} {'ratio':>6s} twice")
    for (name, workers), rows in results.items():
        rate = statistics.median(r[0] for r in rows)
        print(f"{name:20s} {workers:7d} {rate:17.1f} {statistics.median(r[1] for r in rows):12.0f} "
              f"{rate / baseline:6.2f} {sum(r[2] for r in rows)}")


if __name__ == "__main__":
    main()
