"""Durable storage: crash repair at startup, and SIGKILL during ingestion loses nothing."""
import importlib
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import IngestLoad, convert_originals, png_bytes, stored_keys
from processes import wait_for
from sidecar import storage
from sidecar.db import connect


def rows(db_path, sql):
    db = connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# Temp files of interrupted writes exist in the image folder only (embedded backend).
def test_repair_removes_temp_and_orphan_files_and_marks_missing(app, api):
    api.put_attempt(1)
    kept = api.post_camshot(png_bytes(), client_shot_id="kept").json["id"]
    lost = api.post_camshot(png_bytes(), client_shot_id="lost").json["id"]
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    data_dir = app.config["DATA_DIR"]
    folder = data_dir / "images" / "3" / "11" / "1"
    (folder / f".{storage.new_id()}.png.ab12.tmp").write_bytes(b"half written")
    (folder / f"{storage.new_id()}.png").write_bytes(png_bytes())  # renamed, row never committed
    (folder / f"{lost}.png").unlink()

    db = connect(app.config["DATABASE"])
    counts = storage.repair(db, app.config["IMAGES"])
    db.close()
    assert counts == {"temp_removed": 1, "orphan_files_removed": 1, "missing_files": 1}
    assert sorted(p.name for p in folder.iterdir()) == [f"{kept}.png"]
    statuses = dict(rows(app.config["DATABASE"], "SELECT id, status FROM camshots"))
    assert statuses == {kept: "pending", lost: "unreadable"}


@pytest.mark.engines
def test_repair_reads_rows_and_images_side_by_side_a_page_at_a_time(app, api, monkeypatch):
    """Attempts 1, 2 and 10, whose folders sort one way as numbers and another as keys, their rows read three at a
    time: every named image stays, the unnamed ones go, the lost one is marked, and nothing else is touched."""
    monkeypatch.setattr(importlib.import_module("sidecar.storage.repair"), "ROWS_PAGE", 3)
    images = app.config["IMAGES"]
    ids = {}
    for attempt_id in (1, 2, 10):
        api.put_attempt(attempt_id)
        ids[attempt_id] = [api.post_camshot(png_bytes(), attempt_id=attempt_id).json["id"] for _ in range(3)]
    convert_originals(app.config["DATABASE"], images)
    keys = [key for key, _ in images.scan(["images"])]
    assert keys == sorted(keys) and len(keys) == 9  # the store lists its keys in order, as repair walks them
    lost = f"images/3/11/10/{ids[10][1]}.png"
    images.delete(lost)
    orphans = [f"images/3/11/1/{storage.new_id()}.png", f"images/3/11/2/{storage.new_id()}.png"]
    for orphan in orphans:
        images.put(orphan, png_bytes())
    named = stored_keys(images)

    db = connect(app.config["DATABASE"])
    try:
        counts = storage.repair(db, images, now=time.time() + 1)
        statuses = dict(db.execute("SELECT id, status FROM camshots").fetchall())
    finally:
        db.close()
    assert counts == {"temp_removed": 0, "orphan_files_removed": 2, "missing_files": 1}
    assert stored_keys(images) == sorted(set(named) - set(orphans))
    assert statuses == {camshot: "unreadable" if camshot == ids[10][1] else "pending"
                        for camshots in ids.values() for camshot in camshots}


def test_write_durably_leaves_no_temp_file(tmp_path):
    storage.write_durably(tmp_path, "images/1/2/3/x.png", b"data")
    assert [p.name for p in (tmp_path / "images/1/2/3").iterdir()] == ["x.png"]


@pytest.mark.engines
def test_sigkilled_workers_lose_no_acknowledged_camshot(live_sidecar):
    """Kill gunicorn workers while clients post; every 201 must be in the image store and in the database."""
    client = live_sidecar.client
    client.put_attempt(1, user_id=7, user_fullname="A", course_id=3, quiz_id=11, cm_id=42,
                       started_at=int(time.time()))
    kills = 0
    with IngestLoad(client, clients=4) as load:
        while kills < 5:
            # Paced by what is acknowledged, not by a clock: on a loaded machine (or under coverage) uploads are
            # slower, and each kill must still fall among uploads.
            wait_for(lambda: len(load.snapshot()) >= 5 * (kills + 1), 60, f"5 camshots acknowledged after kill {kills}")
            for pid in live_sidecar.gunicorn_worker_pids()[:1]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # gone between the listing and the kill (gunicorn replaced it): next one
                    continue
                kills += 1
    acknowledged = load.acknowledged
    assert kills >= 3 and len(acknowledged) > 20

    live_sidecar.stop()
    live_sidecar.start()  # runs the startup repair of a folder
    if not live_sidecar.images.local:
        live_sidecar.stop()  # a bucket's repair: `proctorpy repair`, with nothing in flight
        subprocess.run([sys.executable, "-m", "sidecar.cli", "repair", "--grace", "0"], env=live_sidecar.env,
                       check=True, capture_output=True)
    db_path = live_sidecar.database
    stored = dict(rows(db_path, "SELECT client_shot_id, id FROM camshots"))
    for client_shot_id, camshot_id in acknowledged.items():
        assert stored.get(client_shot_id) == camshot_id
    paths = {p for (p,) in rows(db_path, "SELECT path FROM camshots")}
    convert_originals(db_path, live_sidecar.images)  # what the analysis worker, not running here, does next
    on_disk = set(stored_keys(live_sidecar.images))
    assert on_disk == paths, "images without rows or rows without images after restart"
    assert not list(live_sidecar.data_dir.rglob("*.tmp"))
    jobs = rows(db_path, "SELECT count(*) FROM jobs")[0][0]
    assert jobs == len(paths), "every camshot has its analysis job"
