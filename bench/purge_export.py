"""Purge and export benchmark: prints its figures (see bench/RESULTS.md).

1. Purge of N synthetic camshots (tiny PNG files, real rows) through POST /api/v1/purge on a real
   `proctorpy serve` (gunicorn), while a client keeps uploading real camshots to another course:
   purge time, and upload latency p50/p99 during the purge against the same client without it.
2. ZIP export of M camshots of realistic size through `proctorpy export` (the same streaming code
   as the API), against a plain read of the same files: MB/s and peak RSS of each process.

Usage: .venv/bin/python bench/purge_export.py [--camshots 100000] [--export-camshots 5000]
"""
import argparse
import hashlib
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sidecar import storage  # noqa: E402
from sidecar.client import SidecarClient  # noqa: E402
from sidecar.db import connect, migrate  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
SHOTS_PER_ATTEMPT = 100


def png(width, height, noise):
    image = Image.effect_noise((width, height), 40) if noise else Image.new("L", (width, height), 128)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def seed(data_dir, course_id, quiz_id, count, image, first_attempt):
    """count camshots in attempts of SHOTS_PER_ATTEMPT, files written without fsync (synthetic data)."""
    db = connect(storage.database_path(data_dir))
    migrate(db)
    digest = hashlib.sha256(image).hexdigest()
    now = time.time()
    rows = []
    with db.conn:
        for index in range(count):
            attempt_id = first_attempt + index // SHOTS_PER_ATTEMPT
            if index % SHOTS_PER_ATTEMPT == 0:
                db.execute("INSERT OR IGNORE INTO users (id, fullname, updated_at) VALUES (?, 'Student', ?)",
                           [attempt_id, now])
                db.execute(
                    "INSERT INTO attempts (id, user_id, course_id, quiz_id, cm_id, started_at, finished_at, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
                    [attempt_id, attempt_id, course_id, quiz_id, int(now) - 7200, int(now) - 3600, now, now])
            camshot_id = storage.new_id()
            relative = storage.camshot_path(course_id, quiz_id, attempt_id, camshot_id)
            target = data_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image)
            rows.append([camshot_id, attempt_id, f"s{index}", index * 1000 + 1, now, relative.as_posix(),
                         len(image), digest])
            if len(rows) == 5000:
                insert(db, rows)
                rows = []
        insert(db, rows)
    db.close()


def insert(db, rows):
    db.conn.executemany(
        "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, width, "
        "height, sha256) VALUES (?, ?, ?, 'attempt', ?, ?, ?, ?, 8, 8, ?)", rows)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sidecar(data_dir, env):
    port = free_port()
    log = open(data_dir.parent / "sidecar.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "serve"], cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               env={**env, "PROCTORPY_SERVER_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("sidecar did not start; see " + str(data_dir.parent / "sidecar.log"))


def upload_latencies(client, attempt_id, image, until=None, count=None):
    """Sequential uploads; seconds each. Stops after count uploads or when until() is true."""
    latencies = []
    while (count is None or len(latencies) < count) and (until is None or not until()):
        started = time.perf_counter()
        status, _ = client.post_camshot(attempt_id, 9, int(time.time() * 1000), image)
        latencies.append(time.perf_counter() - started)
        assert status == 201, status
    return latencies


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed_child(script, data_dir, env):
    """(seconds the script reports for its work, bytes it produced, peak RSS in MiB) of a child process.

    Timing inside the child leaves out interpreter start and imports; the RSS includes them.
    """
    arguments = [str(data_dir), str(storage.database_path(data_dir))]
    done = subprocess.run([sys.executable, "-c", script + PEAK, *arguments], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, check=True)
    seconds, produced, peak_kib = done.stdout.split()
    return float(seconds), int(produced), int(peak_kib) / 1024


# The child's own high-water mark (VmHWM restarts at exec; ru_maxrss would count the forking parent).
PEAK = """
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""

# Reads every file of course 5 in 64 KiB chunks: the floor an export cannot beat.
PLAIN_READ = """
import sqlite3, sys, time
started = time.perf_counter()
db = sqlite3.connect(sys.argv[2])
total = 0
for (path,) in db.execute("SELECT path FROM camshots c JOIN attempts a ON a.id = c.attempt_id WHERE a.course_id = 5"):
    with open(sys.argv[1] + "/" + path, "rb") as f:
        while chunk := f.read(65536):
            total += len(chunk)
print(time.perf_counter() - started, total)"""

# The export's own generator, as POST /api/v1/exports and `proctorpy export` drive it; output discarded.
EXPORT = """
import sys, time
from pathlib import Path
from sidecar.retention import export
from sidecar.storage import FolderStore
images = FolderStore(Path(sys.argv[1]))
started = time.perf_counter()
total = 0
for chunk in export.stream_selection(Path(sys.argv[2]), images, {"course_id": 5}, time.time(), 90):
    total += len(chunk)
print(time.perf_counter() - started, total)"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camshots", type=int, default=100_000, help="camshots to purge")
    parser.add_argument("--export-camshots", type=int, default=5000, help="camshots of realistic size to export")
    parser.add_argument("--baseline-uploads", type=int, default=150)
    parser.add_argument("--pause-ratio", default="1.0", help="retention.pause_ratio of the sidecar")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="proctorpy-bench-"))
    data_dir = root / "data"
    data_dir.mkdir()
    env = {**os.environ, "PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(data_dir),
           "PROCTORPY_ANALYSIS_WITH_SERVER": "false", "PROCTORPY_SERVER_WORKERS": "2",
           "PROCTORPY_STORAGE_MIN_FREE_BYTES": "1", "PROCTORPY_RETENTION_PAUSE_RATIO": args.pause_ratio,
           # The uploading client posts to one attempt as fast as it can: past its allowance it would only be refused.
           "PROCTORPY_CAPTURE_MAX_SHOTS_PER_MINUTE": "1000000000"}
    try:
        started = time.perf_counter()
        seed(data_dir, 3, 11, args.camshots, png(8, 8, noise=False), first_attempt=1)
        export_image = png(320, 240, noise=True)
        seed(data_dir, 5, 51, args.export_camshots, export_image, first_attempt=10_000_000)
        print(f"seeded {args.camshots} tiny camshots to purge and {args.export_camshots} camshots of "
              f"{len(export_image) / 1024:.0f} KiB to export in {time.perf_counter() - started:.1f} s")

        # Export first, while the data set is whole: the same streaming code as POST /api/v1/exports.
        read_seconds, read_bytes, read_rss = timed_child(PLAIN_READ, data_dir, env)
        export_seconds, zip_bytes, export_rss = timed_child(EXPORT, data_dir, env)
        megabytes = read_bytes / 1e6
        print(f"export: {zip_bytes / 1e6:.0f} MB ZIP of {megabytes:.0f} MB of images in {export_seconds:.2f} s = "
              f"{megabytes / export_seconds:.0f} MB/s, peak RSS {export_rss:.0f} MiB")
        print(f"plain read of the same files: {read_seconds:.2f} s = {megabytes / read_seconds:.0f} MB/s, "
              f"peak RSS {read_rss:.0f} MiB; export/read time ratio {export_seconds / read_seconds:.2f}")

        process, url = start_sidecar(data_dir, env)
        try:
            client = SidecarClient(url, SECRET, timeout=600)  # a 100,000-camshot purge answers when done
            client.put_attempt(90_000_000, user_id=9, user_fullname="Uploader", course_id=9, quiz_id=99, cm_id=1,
                               started_at=int(time.time()))
            upload = png(320, 240, noise=True)
            upload_latencies(client, 90_000_000, upload, count=20)  # warm up both workers
            baseline = upload_latencies(client, 90_000_000, upload, count=args.baseline_uploads)
            dry = client.json("POST", "/api/v1/purge", {"course_id": 3})[1]
            result = {}

            def purge():
                began = time.perf_counter()
                result.update(client.json("POST", "/api/v1/purge", {"course_id": 3, "dry_run": False})[1])
                result["seconds"] = time.perf_counter() - began

            runner = threading.Thread(target=purge)
            runner.start()
            during = upload_latencies(client, 90_000_000, upload, until=lambda: not runner.is_alive())
            runner.join()
            # Measured again after the purge: on a shared machine the load drifts within minutes.
            baseline += upload_latencies(client, 90_000_000, upload, count=args.baseline_uploads)
            assert {k: result[k] for k in dry} == {**dry, "dry_run": False}, (dry, result)
            left = sum(1 for _ in (data_dir / "images" / "3").rglob("*.png")) if (data_dir / "images" / "3").exists() else 0
            assert left == 0, f"{left} files left"
            print(f"purge: {result['camshots']} camshots of {result['attempts']} attempts in {result['seconds']:.1f} s "
                  f"= {result['camshots'] / result['seconds']:.0f} camshots/s (batch size 500, pause ratio {args.pause_ratio}; dry run equal: yes)")
            print(f"upload latency without purge (before and after it): p50 {percentile(baseline, .5) * 1000:.1f} ms, "
                  f"p99 {percentile(baseline, .99) * 1000:.1f} ms ({len(baseline)} uploads)")
            print(f"upload latency during purge:  p50 {percentile(during, .5) * 1000:.1f} ms, "
                  f"p99 {percentile(during, .99) * 1000:.1f} ms ({len(during)} uploads); "
                  f"p99 ratio {percentile(during, .99) / percentile(baseline, .99):.2f}, "
                  f"p50 ratio {percentile(during, .5) / percentile(baseline, .5):.2f}")
            print(json.dumps({"baseline_mean_ms": round(statistics.mean(baseline) * 1000, 1),
                              "during_mean_ms": round(statistics.mean(during) * 1000, 1)}))
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    random.seed(1)
    main()
