"""Repair's memory at scale: the peak RSS of storage.repair() over a million camshot rows and a million stored
images.

The rows are real: a SQLite file the sidecar migrates, one attempt of N camshots. The store is simulated: it lists
N keys in the order a bucket lists them, generated one by one (every 1000th row's image missing, an unnamed image
after every 1000th), answers exists() with False, and deletes nothing. Repair runs in a child process of its own,
so its peak RSS is repair's plus the interpreter's; a second child only opens the database, for the floor.

    .venv/bin/python bench/repair.py [--rows 1000000]
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sidecar import storage  # noqa: E402
from sidecar.db import connect, migrate  # noqa: E402

EVERY = 1000  # one missing image and one unnamed image per this many rows


def key(n):
    # Ids in counting order, so that the keys' order is the rows' order and the store can list them as it goes.
    return f"images/3/11/1/{n:020x}.png"


class SimulatedStore:
    """A bucket's listing of n keys, made as it is read."""
    local = False

    def __init__(self, n):
        self.n = n
        self.deleted = 0

    def sweep_temporary(self, tops, before):
        return 0

    def scan(self, tops):
        for n in range(self.n):
            if n % EVERY != EVERY - 1:
                yield key(n), 0.0
            if n % EVERY == 0:
                yield key(n)[:-4] + "a.png", 0.0  # sorts right after key(n): an image no row names

    def exists(self, key):
        return False

    def delete_many(self, keys):
        self.deleted += len(list(keys))


def build(path, rows):
    db = connect(str(path))
    migrate(db)
    now = time.time()
    with db.transaction():
        db.execute("INSERT INTO users (id, fullname, updated_at) VALUES (7, 'A', ?)", [now])
        db.execute("INSERT INTO attempts (id, user_id, course_id, quiz_id, cm_id, started_at, created_at, updated_at) "
                   "VALUES (1, 7, 3, 11, 42, ?, ?, ?)", [int(now), now, now])
        db.execute_many(
            "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, width, "
            "height, sha256, status) VALUES (?, 1, ?, 'attempt', ?, ?, ?, 1, 320, 240, '', 'ok')",
            ((f"{n:020x}", f"{n:020x}", int(now * 1000), now, key(n)) for n in range(rows)))
    db.close()


def child(path, rows, repair):
    db = connect(str(path))
    started = time.perf_counter()
    counts = storage.repair(db, SimulatedStore(rows), now=time.time()) if repair else None
    seconds = time.perf_counter() - started
    db.close()
    print(json.dumps({"counts": counts, "seconds": seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(path, rows, repair):
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--rows", str(rows)]
                         + (["--repair"] if repair else []), capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--repair", action="store_true")
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child), args.rows, args.repair)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "proctorpy.db"
        started = time.perf_counter()
        build(path, args.rows)
        print(f"REPAIR rows={args.rows} built in {time.perf_counter() - started:.1f} s")
        floor = run_child(path, args.rows, repair=False)
        done = run_child(path, args.rows, repair=True)
    print(f"REPAIR floor (interpreter, sidecar imported, database open): {floor['peak_rss_mb']:.0f} MB")
    print(f"REPAIR repair of {args.rows} rows and images: {done['seconds']:.1f} s, peak RSS "
          f"{done['peak_rss_mb']:.0f} MB, counts {done['counts']}")


if __name__ == "__main__":
    main()
