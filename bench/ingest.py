"""Ingest throughput and latency of a real gunicorn sidecar, beside a bare Flask baseline.

Starts `proctorpy serve` (analysis off, fresh data dir) and a bare Flask app under the same
gunicorn settings on loopback, then posts 320x240 camshots from separate client processes for a
bounded time against each path, in alternating rounds, and prints shots/s and latency
percentiles. The paths: signed (as Moodle forwards them), direct (each client a browser with
its own attempt and upload token, as the capture module posts them in direct mode) and the
bare Flask upload.

    .venv/bin/python bench/ingest.py [--clients 64] [--seconds 15]
"""
import argparse
import contextlib
import http.client
import io
import multiprocessing
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sidecar.client import SidecarClient, multipart  # noqa: E402
from sidecar.signing import make_token, signed_headers  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
FACE = REPO.parent / "shared" / "testdata" / "faces" / "obama" / "obama-480p.jpg"


def camshot_jpeg():
    """A real 320x240 face frame as the capture module sends it: JPEG at quality 0.85."""
    with Image.open(FACE) as image:
        frame = image.convert("RGB").resize((320, 240))
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=85)
    return out.getvalue()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server for {url} exited")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP answer means it is up
                return
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def start_sidecar(data_dir, port, workers):
    env = {**os.environ, "PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(data_dir),
           "PROCTORPY_SERVER_PORT": str(port), "PROCTORPY_SERVER_WORKERS": str(workers),
           "PROCTORPY_ANALYSIS_WITH_SERVER": "false",
           # Each browser here posts as fast as it can: measure the rate limiter's cost, not its refusals.
           "PROCTORPY_CAPTURE_MAX_SHOTS_PER_MINUTE": "1000000000"}
    process = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(f"http://127.0.0.1:{port}/healthz", process)
    return process


def start_bare(port, workers, threads):
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", "gthread", "--threads", str(threads), "--no-control-socket",
         "--chdir", str(REPO / "bench"), "bare_app:create_app()"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(f"http://127.0.0.1:{port}/upload", process)
    return process


def session_cpu_seconds(session):
    """User + system CPU seconds of every live process in a session (the server and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def client_process(target, port, threads, seconds, image, attempt_id, results, browsers=()):
    """One load-generating process: `threads` keep-alive connections posting until time is up.

    For the direct path, thread i is browsers[i]: its own (attempt id, upload token).
    """
    import threading

    latencies, errors = [], []
    deadline = time.time() + seconds

    def run(worker):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        attempt, token = browsers[worker] if target == "direct" else (attempt_id, None)
        n = 0
        while time.time() < deadline:
            n += 1
            fields = {"attempt_id": attempt, "user_id": 7, "taken_at": int(time.time() * 1000),
                      "client_shot_id": f"{os.getpid()}-{worker}-{n}-{secrets.token_hex(4)}", "kind": "attempt"}
            body, ctype = multipart(fields, {"image": ("shot.jpg", image, "image/jpeg")})
            if target == "sidecar":
                path = "/api/v1/camshots"
                headers = signed_headers(SECRET, "POST", path, body)
            elif target == "direct":
                path, headers = "/api/v1/direct/camshots", {"Authorization": "Bearer " + token}
            else:
                path, headers = "/upload", {}
            headers["Content-Type"] = ctype
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError as error:
                errors.append(str(error))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            if status == 201:
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(status)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put((latencies, errors))


def load(target, port, clients, seconds, image, attempt_id=1, processes=2, browsers=()):
    """Raw figures of one round: latencies of the 201s, errors, elapsed seconds."""
    results = multiprocessing.Queue()
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    starts = [sum(per[:i]) for i in range(processes)]
    procs = [multiprocessing.Process(target=client_process,
                                     args=(target, port, n, seconds, image, attempt_id, results,
                                           browsers[start:start + n]))
             for n, start in zip(per, starts) if n]
    started = time.perf_counter()
    for p in procs:
        p.start()
    latencies, errors = [], []
    for _ in procs:
        lat, err = results.get()
        latencies += lat
        errors += err
    for p in procs:
        p.join()
    return latencies, errors, time.perf_counter() - started


def interleaved(targets, rounds, clients, seconds, image, browsers=()):
    """Alternate short rounds between targets, so a busy neighbour slows all alike.

    targets: name -> (port, server process); the server's CPU time is counted per round, which
    a busy neighbour inflates far less than wall time.
    """
    totals = {name: ([], [], 0.0, 0.0) for name in targets}
    for _ in range(rounds):
        for name, (port, server) in targets.items():
            cpu = session_cpu_seconds(server.pid)
            latencies, errors, elapsed = load(name, port, clients, seconds / rounds, image, browsers=browsers)
            cpu = session_cpu_seconds(server.pid) - cpu
            old = totals[name]
            totals[name] = (old[0] + latencies, old[1] + errors, old[2] + elapsed, old[3] + cpu)
    return {name: summarise(*figures) for name, figures in totals.items()}


def summarise(latencies, errors, elapsed, cpu):
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else float("nan")

    return {"shots": len(latencies), "errors": len(errors), "rate": len(latencies) / elapsed,
            "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
            "cpu_ms": cpu / len(latencies) * 1000 if latencies else float("nan")}


def line(name, r):
    return (f"{name:<22} {r['rate']:8.1f} shots/s   p50 {r['p50']:6.1f} ms   p95 {r['p95']:6.1f} ms   "
            f"p99 {r['p99']:6.1f} ms   server CPU {r['cpu_ms']:5.2f} ms/shot   ({r['shots']} shots, {r['errors']} errors)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--seconds", type=float, default=15, help="seconds of load per target (default 15)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per target (default 4)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (default: cores)")
    args = parser.parse_args()
    image = camshot_jpeg()
    print(f"machine: {os.cpu_count()} cores; frame: 320x240 JPEG q85, {len(image)} bytes; "
          f"{args.clients} clients in 2 processes; {args.seconds:.0f} s per target in {args.rounds} alternating rounds")
    with tempfile.TemporaryDirectory() as tmp:
        port, bare_port = free_port(), free_port()
        sidecar = start_sidecar(Path(tmp) / "data", port, args.workers)
        bare = start_bare(bare_port, args.workers, 4)
        try:
            client = SidecarClient(f"http://127.0.0.1:{port}", SECRET)
            # Attempt 1 takes the signed shots; each simulated browser has an attempt of its own.
            browsers = []
            for attempt_id in range(1, args.clients + 2):
                client.put_attempt(attempt_id, user_id=7, user_fullname="Bench", course_id=1, quiz_id=1, cm_id=1,
                                   started_at=int(time.time()))
                if attempt_id > 1:
                    token = make_token(SECRET, {"a": attempt_id, "u": 7, "exp": int(time.time()) + 3600})
                    browsers.append((attempt_id, token))
            figures = interleaved({"sidecar": (port, sidecar), "direct": (port, sidecar), "bare": (bare_port, bare)},
                                  args.rounds, args.clients, args.seconds, image, browsers)
            signed, direct, baseline = figures["sidecar"], figures["direct"], figures["bare"]
            stored = sum(p.stat().st_size for p in (Path(tmp) / "data" / "images").rglob("*.png"))
            # With analysis off, camshots stay as received, in the database, until a worker writes their PNG.
            with contextlib.closing(sqlite3.connect(Path(tmp) / "data" / "proctorpy.db")) as database:
                stored += database.execute("SELECT coalesce(sum(length(data)), 0) FROM camshot_originals").fetchone()[0]
        finally:
            stop(sidecar)
            stop(bare)
    print(line("sidecar (signed)", signed))
    print(line("sidecar (direct, token)", direct))
    print(line("bare Flask upload", baseline))
    print(f"ratio: bare/sidecar throughput {baseline['rate'] / signed['rate']:.2f}x; "
          f"p99 sidecar/bare {signed['p99'] / baseline['p99']:.2f}x; "
          f"direct/signed throughput {direct['rate'] / signed['rate']:.2f}x; "
          f"p99 direct/bare {direct['p99'] / baseline['p99']:.2f}x; "
          f"stored {stored / max(1, signed['shots'] + direct['shots']) / 1024:.1f} KB per camshot (PNG or as received)")
    print(f"direct bars: >= 400 shots/s {'met' if direct['rate'] >= 400 else 'missed'}; "
          f"p99 < 100 ms {'met' if direct['p99'] < 100 else 'missed'}; "
          f"{os.cpu_count()} cores spent only on the server would take at most "
          f"{os.cpu_count() * 1000 / direct['cpu_ms']:.0f} direct shots/s")


if __name__ == "__main__":
    main()
