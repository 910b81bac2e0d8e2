"""Faults: the whole sidecar SIGKILLed under ingest, a locked database, a full disk, a read-only
data dir, and a Moodle host whose clock is off. Each is refused with a clear 5xx-free answer
(503/507 are the sidecar saying "not now") or survived, and nothing acknowledged is lost.

`make test` kills the sidecar PROCTORPY_FAULT_KILLS=3 times; `make fuzz` 20 times.
"""
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

from conftest import (
    SECRET, IngestLoad, LiveSidecar, SignedTestClient, attempt_fields, convert_originals, png_bytes, stored_keys,
)
from sidecar import create_app, db
from sidecar.analysis.worker import work
from sidecar.config import load_config
from sidecar.database import sqlite as sqlite_engine
from sidecar.signing import signed_headers
from sidecar.views.connections import close_app


def rows(location, sql):
    database = db.connect(location)
    try:
        return database.execute(sql).fetchall()
    finally:
        database.close()


# The paths of the camshots whose PNG is written: one still kept as received has its original in the database.
CONVERTED_PATHS = "SELECT path FROM camshots WHERE id NOT IN (SELECT camshot_id FROM camshot_originals)"


def files_and_rows(data_dir, database=None):
    """(files under images/, paths converted camshot rows name) of a data dir and its database (its SQLite file
    unless given)."""
    on_disk = {p.relative_to(data_dir).as_posix() for p in (data_dir / "images").rglob("*") if p.is_file()}
    named = {path for (path,) in rows(database or data_dir / "proctorpy.db", CONVERTED_PATHS)}
    return on_disk, named


def images_and_rows(sidecar):
    """(images its store holds, paths converted camshot rows name) of a live sidecar."""
    named = {path for (path,) in rows(sidecar.database, CONVERTED_PATHS)}
    return set(stored_keys(sidecar.images)), named


def repair_now(sidecar):
    """`proctorpy repair` with no grace: nothing is in flight once the sidecar is stopped."""
    subprocess.run([sys.executable, "-m", "sidecar.cli", "repair", "--grace", "0"], env=sidecar.env, check=True,
                   capture_output=True)


@pytest.mark.engines
def test_sidecar_sigkilled_under_ingest_loses_no_acknowledged_camshot(tmp_path, backend_env):
    kills = int(os.environ.get("PROCTORPY_FAULT_KILLS", "3"))
    sidecar = LiveSidecar(tmp_path / "data", env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
                                                  **backend_env}).start()
    sidecar.client.put_attempt(1, **attempt_fields(1))
    survived = 0
    deadline = time.time() + 60 + 8 * kills
    try:
        with IngestLoad(sidecar.client) as load:
            for _ in range(kills):
                before = len(load.acknowledged)
                while len(load.acknowledged) < before + 5 and time.time() < deadline:
                    time.sleep(0.05)
                time.sleep(random.uniform(0, 0.4))  # land the kill anywhere in an upload
                os.killpg(sidecar.process.pid, signal.SIGKILL)
                sidecar.process.wait()
                sidecar.process = None
                sidecar.start()  # the startup repair runs before gunicorn starts
                survived += 1
    finally:
        sidecar.stop()
    acknowledged, refused = load.acknowledged, load.refused

    sidecar.start()
    sidecar.stop()
    if not sidecar.images.local:
        # A bucket is repaired by the daily job or `proctorpy repair`, never at each start (storage/repair.py).
        repair_now(sidecar)
    stored = dict(rows(sidecar.database, "SELECT client_shot_id, id FROM camshots"))
    lost = [key for key, camshot_id in acknowledged.items() if stored.get(key) != camshot_id]
    on_disk, named = images_and_rows(sidecar)
    print(f"\nFAULTS sigkill: kills={survived} acknowledged={len(acknowledged)} lost={len(lost)} "
          f"orphan_files={len(on_disk - named)} rows_without_file={len(named - on_disk)} "
          f"5xx={sum(1 for s in refused if s >= 500)}")
    assert survived == kills and len(acknowledged) >= 5 * kills
    assert lost == []
    assert on_disk == named and not any(p.endswith(".tmp") for p in on_disk)
    assert all(status < 500 for status in refused), refused
    # Acknowledged before their PNG was written (no worker ran): the worker converts every one of them now.
    work(load_config(environ=sidecar.env), until_idle=True)
    on_disk, named = images_and_rows(sidecar)
    assert rows(sidecar.database, "SELECT count(*) FROM camshot_originals") == [(0,)]
    assert on_disk == {path for (path,) in rows(sidecar.database, "SELECT path FROM camshots")} == named


# Another process holds the SQLite file's lock (embedded backend).
def test_a_locked_database_answers_503_with_a_message_then_recovers(app, api, monkeypatch):
    monkeypatch.setattr(sqlite_engine, "BUSY_TIMEOUT_MS", 300)  # how long a request waits for the lock
    api.put_attempt(1)
    holder = sqlite3.connect(str(app.config["DATABASE"]))
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = api.post_camshot(png_bytes(), client_shot_id="during-lock")
        assert response.status_code == 503
        assert response.json["error"] == "database_locked"
        assert "locked" in response.json["message"] and "Try again" in response.json["message"]
    finally:
        holder.rollback()
        holder.close()
    on_disk, named = files_and_rows(app.config["DATA_DIR"], app.config["DATABASE"]) if (app.config["DATA_DIR"] / "images").exists() else (
        set(), set())
    assert on_disk == named == set()
    assert api.post_camshot(png_bytes(), client_shot_id="during-lock").status_code == 201


# The free-space floor guards the disk the image folder is on (embedded backend); a bucket has none here.
def test_below_the_free_space_floor_camshots_get_507_then_are_taken_when_space_is_back(config, tmp_path):
    first_app = create_app(config)
    first = SignedTestClient(first_app.test_client())
    first.put_attempt(1)
    full = load_config(environ={}, overrides={**config, "storage.min_free_bytes": 2**62})
    full_app = create_app(full)
    api = SignedTestClient(full_app.test_client())
    response = api.post_camshot(png_bytes(), client_shot_id="when-full")
    assert response.status_code == 507
    assert response.json["error"] == "disk_full" and "MiB free" in response.json["message"]
    assert api.client.get("/healthz").json["status"] == "disk_low"
    assert not (config.data_dir / "images").exists()
    # The admin frees space (here: the floor is back to normal); the browser's retry is stored.
    assert first.post_camshot(png_bytes(), client_shot_id="when-full").status_code == 201
    close_app(first_app)
    close_app(full_app)


def mount_tmpfs(path, size):
    path.mkdir(exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip()}); the floor test covers 507")


def remount(path, options):
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MiB filesystem for the data dir, unmounted afterwards."""
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "3m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def noise_png(seed):
    """A 320x240 camshot of random pixels: incompressible, so the disk fills fast."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (320, 240), rng.randbytes(320 * 240 * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def small_disk_app(disk):
    config = load_config(environ={}, overrides={
        "storage.data_dir": str(disk / "data"), "security.secret": SECRET, "storage.min_free_bytes": 0,
        "storage.format": "rgb", "storage.png_compress_level": 0})
    return SignedTestClient(create_app(config).test_client())


def test_a_really_full_disk_answers_507_and_leaves_no_partial_file(small_disk):
    api = small_disk_app(small_disk)
    assert api.put_attempt(1).status_code == 201
    statuses = []
    for n in range(40):
        response = api.post_camshot(noise_png(n), client_shot_id=f"shot-{n}")
        statuses.append(response.status_code)
        assert response.status_code in (201, 507, 503), response.json
        if response.status_code != 201:
            assert response.json["message"], response.json
            if response.status_code == 507:
                break
    assert 507 in statuses and statuses.count(201) >= 1
    data_dir = small_disk / "data"
    on_disk, named = files_and_rows(data_dir)
    assert on_disk == named and not list(data_dir.rglob("*.tmp"))
    remount(small_disk, "size=16m")  # the admin grows the disk
    retry = statuses.index(507)
    assert api.post_camshot(noise_png(retry), client_shot_id=f"shot-{retry}").status_code == 201


def test_a_read_only_data_dir_answers_503_with_a_message_then_recovers(small_disk):
    api = small_disk_app(small_disk)
    api.put_attempt(1)
    assert api.post_camshot(png_bytes(), client_shot_id="before").status_code == 201
    # A filesystem with files open for writing cannot be remounted read-only: close this
    # thread's connection first, as a worker restart would; the next request opens a new one.
    connections = api.client.application.extensions["proctorpy_db"].threads
    connections.db.close()
    del connections.db
    remount(small_disk, "ro")
    try:
        response = api.post_camshot(png_bytes(), client_shot_id="while-read-only")
        assert response.status_code == 503, response.json
        assert response.json["error"] == "read_only" and "read-only" in response.json["message"]
        health = api.client.get("/healthz")
        assert health.status_code in (200, 503)
    finally:
        remount(small_disk, "rw")
    assert api.post_camshot(png_bytes(), client_shot_id="while-read-only").status_code == 201
    convert_originals(api.client.application.config["DATABASE"], api.client.application.config["IMAGES"])
    on_disk, named = files_and_rows(small_disk / "data")
    assert on_disk == named and len(named) == 2


@pytest.mark.parametrize("offset", [-900, 420])
def test_a_skewed_moodle_clock_is_refused_with_the_offset(live_sidecar, offset):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping", b"", timestamp=int(time.time()) + offset)
    request = urllib.request.Request(live_sidecar.url + "/api/v1/ping", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value:
        assert refused.value.code == 401
        body = json.loads(refused.value.read())
    assert body["error"] == "clock_skew"
    said = int(re.search(r"is ([+-]\d+) s from the sidecar's clock", body["message"]).group(1))
    assert abs(said - offset) <= 2 and "NTP" in body["message"]


def test_a_small_skew_within_the_window_is_accepted(live_sidecar):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping", b"", timestamp=int(time.time()) - 200)
    request = urllib.request.Request(live_sidecar.url + "/api/v1/ping", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
