"""Backup under ingest load, restore into an empty data dir, every acknowledged camshot there."""
import hashlib
import json
import os
import subprocess
import sys
import time

from conftest import IngestLoad, LiveSidecar, convert_originals, png_bytes
from sidecar import backup as backups
from sidecar.db import connect

# Backup and restore copy the data dir's SQLite file (PostgreSQL is backed up with pg_dump): these tests
# run on the embedded backend only, never marked engines.


def proctorpy(*args, data_dir):
    env = {**os.environ, "PROCTORPY_STORAGE_DATA_DIR": str(data_dir)}
    env.pop("PROCTORPY_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "sidecar.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def rows(db_path, sql):
    database = connect(db_path)
    try:
        return database.execute(sql).fetchall()
    finally:
        database.close()


def test_backup_under_load_restores_every_acknowledged_camshot(tmp_path, live_sidecar):
    client = live_sidecar.client
    client.put_attempt(1, user_id=7, user_fullname="Ada", course_id=3, quiz_id=11, cm_id=42, started_at=1_700_000_000)
    dest = tmp_path / "backup"
    with IngestLoad(client) as load:
        while len(load.acknowledged) < 40:
            time.sleep(0.05)
        before_backup = load.snapshot()
        result = proctorpy("backup", str(dest), data_dir=live_sidecar.data_dir)
        during_backup = len(load.snapshot()) - len(before_backup)
    assert result.returncode == 0, result.stderr
    assert during_backup > 0, "the backup ran without any upload beside it"
    manifest = json.loads((dest / "backup.json").read_text())
    assert manifest["missing_files"] == [] and manifest["mismatched_files"] == []
    assert (dest / "proctorpy.db").exists() and not (dest / "proctorpy.db.partial").exists()

    restored_dir = tmp_path / "restored"
    result = proctorpy("restore", str(dest), data_dir=restored_dir)
    assert result.returncode == 0, result.stderr
    stored = {r[0]: r[1:] for r in rows(restored_dir / "proctorpy.db", "SELECT client_shot_id, id, path, sha256 FROM camshots")}
    for client_shot_id, camshot_id in before_backup.items():
        assert stored[client_shot_id][0] == camshot_id
    # A camshot the worker had not converted yet travels in the database, as received.
    held = dict(rows(restored_dir / "proctorpy.db", "SELECT camshot_id, data FROM camshot_originals"))
    for camshot_id, path, sha256 in stored.values():
        kept = held[camshot_id] if camshot_id in held else (restored_dir / path).read_bytes()
        assert hashlib.sha256(kept).hexdigest() == sha256
    on_disk = {p.relative_to(restored_dir).as_posix() for p in (restored_dir / "images").rglob("*") if p.is_file()} \
        if (restored_dir / "images").exists() else set()
    assert on_disk == {path for camshot_id, path, _ in stored.values() if camshot_id not in held}, \
        "exactly the files the converted camshots' rows name"

    # A sidecar on the restored data dir serves the camshots.
    sidecar = LiveSidecar(restored_dir).start()
    try:
        some_id = next(iter(before_backup.values()))
        status, image = sidecar.client.request("GET", f"/api/v1/camshots/{some_id}/image")
        assert status == 200 and image.startswith(b"\x89PNG")
        shots = sidecar.client.get_attempt(1)["shots"]
        assert {s["id"] for s in shots} >= set(before_backup.values())
        assert all(s["status"] != "unreadable" for s in shots)
    finally:
        sidecar.stop()


def test_backup_copies_only_files_rows_name_and_the_secret(app, api, tmp_path):
    api.put_attempt(1)
    kept = api.post_camshot(png_bytes(), client_shot_id="a").json["id"]
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    data_dir = app.config["DATA_DIR"]
    (data_dir / "images" / "3" / "11" / "1" / "0123456789abcdef0123.png").write_bytes(png_bytes())
    (data_dir / "secret").write_text("stored-secret-0123456789\n")
    manifest = backups.backup(data_dir, tmp_path / "b")
    assert manifest["camshots"] == 1 and manifest["files"] == 1 and manifest["secret_included"]
    files = sorted(p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files == ["backup.json", f"images/3/11/1/{kept}.png", "proctorpy.db", "secret"]
    assert oct((tmp_path / "b" / "secret").stat().st_mode & 0o777) == "0o600"


def test_backup_reports_a_file_whose_content_changed(app, api, tmp_path):
    api.put_attempt(1)
    camshot_id = api.post_camshot(png_bytes(), client_shot_id="a").json["id"]
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    (app.config["DATA_DIR"] / "images" / "3" / "11" / "1" / f"{camshot_id}.png").write_bytes(b"tampered")
    manifest = backups.backup(app.config["DATA_DIR"], tmp_path / "b")
    assert manifest["mismatched_files"] == [f"images/3/11/1/{camshot_id}.png"]


def test_restore_refuses_a_non_empty_data_dir_and_changes_nothing(app, api, tmp_path):
    api.put_attempt(1)
    api.post_camshot(png_bytes(), client_shot_id="a")
    backups.backup(app.config["DATA_DIR"], tmp_path / "b")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = proctorpy("restore", str(tmp_path / "b"), data_dir=target)
    assert result.returncode == 1
    assert "is not empty" in result.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_backup_refuses_a_non_empty_destination(app, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "old").write_text("x")
    result = proctorpy("backup", str(dest), data_dir=app.config["DATA_DIR"])
    assert result.returncode == 1 and "is not empty" in result.stderr
    assert [p.name for p in dest.iterdir()] == ["old"]


def test_restore_refuses_an_unfinished_backup(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "proctorpy.db.partial").write_bytes(b"")
    result = proctorpy("restore", str(tmp_path / "half"), data_dir=tmp_path / "new")
    assert result.returncode == 1 and "unfinished" in result.stderr
