"""Durable storage: crash repair at startup, and SIGKILL during ingestion loses nothing."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import IngestLoad, png_bytes, stored_keys
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
    on_disk = set(stored_keys(live_sidecar.images))
    assert on_disk == paths, "images without rows or rows without images after restart"
    assert not list(live_sidecar.data_dir.rglob("*.tmp"))
    jobs = rows(db_path, "SELECT count(*) FROM jobs")[0][0]
    assert jobs == len(paths), "every camshot has its analysis job"
