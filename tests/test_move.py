"""`proctorpy move`: a single-machine installation (SQLite file and image folder) copied to
PostgreSQL and a SeaweedFS bucket, interrupted by SIGKILL and finished by running it again, with
every row and image in the new place and a sidecar there answering as the old one did."""
import hashlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from conftest import (
    FACES, SECRET, LiveSidecar, SignedTestClient, attempt_fields, convert_originals, png_bytes, postgresql_database,
    settings_env, stored_keys,
)
from processes import wait_for
from sidecar import create_app, storage
from sidecar.cli import cli
from sidecar.config import load_config
from sidecar.db import connect
from sidecar.demo import load_demo
from sidecar.views.connections import close_app

QUEUED = 800  # camshots still waiting for analysis at the move: enough to interrupt the copy of images
HELD = 5  # of those, the last ones still kept as received, their PNG not written yet


@pytest.fixture(scope="module")
def old_installation(tmp_path_factory):
    """The demo course, analysed, and an attempt whose camshots are still queued, in an old data dir."""
    data_dir = tmp_path_factory.mktemp("old") / "data"
    config = load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET,
                                                "storage.fsync": False,
                                                "capture.max_shots_per_minute": 1_000_000})
    load_demo(config, FACES)
    app = create_app(config)
    api = SignedTestClient(app.test_client())
    api.put_attempt(1, **attempt_fields(1))
    for n in range(QUEUED):
        response = api.post_camshot(png_bytes(64, 48, (n % 256, n // 256, 90)), attempt_id=1, user_id=7,
                                    taken_at=int(time.time() * 1000) - n, client_shot_id=f"q{n}")
        assert response.status_code == 201, response.data
        if n == QUEUED - HELD - 1:
            convert_originals(app.config["DATABASE"], app.config["IMAGES"])  # as the worker had
    overview = api.get("/api/v1/quizzes/9101/attempts").get_json()
    report = api.get("/api/v1/attempts/90004/report").get_data(as_text=True)
    close_app(app)
    return data_dir, (overview, report)


def camshots_shown(report):
    """The ids of the camshots an attempt report's HTML shows, in its order."""
    return re.findall(r'src="[^"]*?([0-9a-f]{20})\?size=thumb" alt="Camshot', report)


def tables(location):
    database = connect(location)
    try:
        return {name: database.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                for name in sorted(database.table_names())}
    finally:
        database.close()


def rows(location, sql):
    database = connect(location)
    try:
        return database.execute(sql).fetchall()
    finally:
        database.close()


def test_an_interrupted_move_finishes_when_run_again_with_every_row_and_image(tmp_path, seaweedfs, old_installation):
    old, (old_overview, old_report) = old_installation
    with postgresql_database() as url:
        settings = {"database.url": url, **seaweedfs.settings("moved/")}
        env = {**os.environ, **settings_env(settings), "PROCTORPY_SECRET": SECRET,
               "PROCTORPY_STORAGE_DATA_DIR": str(tmp_path / "new")}
        images = storage.image_store(load_config(environ=env))
        command = [sys.executable, "-m", "sidecar.cli", "move", "--from", str(old)]
        wanted = len(rows(old / "proctorpy.db", "SELECT path FROM camshots UNION SELECT path FROM reference_photos"))

        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        wait_for(lambda: first.poll() is not None or len(stored_keys(images)) >= 50, 120, "the first images to arrive")
        assert first.poll() is None, "the move finished before it could be interrupted: " + first.stdout.read().decode()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        first.stdout.close()
        interrupted_at = len(stored_keys(images)) + len(stored_keys(images, "references"))
        assert 0 < interrupted_at < wanted

        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout + again.stderr
        # Puts in flight at the kill may still land: at least what was there is skipped.
        skipped = int(re.search(r"images: (\d+) already in", again.stdout).group(1))
        assert interrupted_at <= skipped < wanted, again.stdout

        moved, before = tables(url), tables(old / "proctorpy.db")
        assert moved.pop("audit_log") == before.pop("audit_log") + 1, "the move is audited"
        assert moved == before
        held = dict(rows(url, "SELECT camshot_id, data FROM camshot_originals"))
        assert len(held) == HELD
        for camshot_id, path, sha256 in rows(url, "SELECT id, path, sha256 FROM camshots"):
            kept = held[camshot_id] if camshot_id in held else images.get(path)
            assert hashlib.sha256(kept).hexdigest() == sha256, camshot_id
        for (path,) in rows(url, "SELECT path FROM reference_photos"):
            assert images.get(path) == (old / path).read_bytes()

        # Once more: nothing is left to copy, and nothing is copied twice.
        third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert third.returncode == 0 and ", 0 to copy" in third.stdout, third.stdout + third.stderr
        assert tables(url)["camshots"] == before["camshots"]

        # A sidecar on the new place, with an empty folder of its own, answers as the old one did and goes on.
        node = LiveSidecar(tmp_path / "node", env=settings_env(settings)).start()
        try:
            assert node.client.request("GET", "/api/v1/quizzes/9101/attempts")[1] == old_overview
            report = node.client.request("GET", "/api/v1/attempts/90004/report")[1].decode()
            shown = camshots_shown(report)
            assert shown and shown == camshots_shown(old_report) and "Kit Harington" in report
            for camshot_id in shown:
                status, image = node.client.request("GET", f"/api/v1/camshots/{camshot_id}/image?size=thumb")
                assert status == 200 and image.startswith(b"\x89PNG")
            _, body = node.client.post_camshot(1, 7, int(time.time() * 1000), png_bytes(), "after-the-move")
            assert body["id"] in {row[0] for row in rows(url, "SELECT id FROM camshots")}
            node.client.post_event(1, 7, "focus_lost", int(time.time() * 1000), "event-after-the-move")
        finally:
            node.stop()


def run_move(source, env):
    return CliRunner().invoke(cli, ["move", "--from", str(source)], env=env)


def test_move_refuses_what_it_cannot_do_and_says_why(tmp_path, seaweedfs, old_installation):
    old, _ = old_installation
    empty = tmp_path / "empty"
    empty.mkdir()
    with postgresql_database() as url:
        target = {**settings_env({"database.url": url, **seaweedfs.settings("refusals/")}), "PROCTORPY_SECRET": SECRET,
                  "PROCTORPY_STORAGE_DATA_DIR": str(tmp_path / "new")}
        refused = run_move(empty, target)
        assert refused.exit_code == 1 and "holds no proctorpy.db" in refused.output

        same = run_move(old, {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(old),
                              "PROCTORPY_DATABASE_URL": "", "PROCTORPY_STORAGE_BACKEND": "folder"})
        assert same.exit_code == 1 and "same SQLite file and image folder" in same.output

        pid_file = storage.pid_path(old)
        pid_file.write_text(str(os.getpid()))
        try:
            running = run_move(old, target)
        finally:
            pid_file.unlink()
        assert running.exit_code == 1 and "still runs" in running.output

        database = connect(url)
        try:
            from sidecar.db import migrate
            migrate(database)
            database.execute("INSERT INTO users (id, updated_at) VALUES (5, 0)")
            database.execute("INSERT INTO attempts (id, user_id, course_id, quiz_id, cm_id, started_at, created_at, "
                             "updated_at) VALUES (555, 5, 1, 1, 1, 0, 0, 0)")
        finally:
            database.close()
        foreign = run_move(old, target)
        assert foreign.exit_code == 1 and "another installation" in foreign.output
        assert tables(url)["camshots"] == 0


def test_a_move_between_two_sites_with_overlapping_ids_is_refused_and_changes_nothing(tmp_path, seaweedfs,
                                                                                       old_installation):
    old, _ = old_installation
    prefix = f"other-site-{time.time_ns()}/"
    with postgresql_database() as url, postgresql_database() as empty_url:
        other_site = load_config(environ={}, overrides={
            "storage.data_dir": str(tmp_path / "other"), "security.secret": SECRET, "database.url": url,
            **seaweedfs.settings(prefix)})
        app = create_app(other_site)
        images = app.config["IMAGES"]
        api = SignedTestClient(app.test_client())
        # Another Moodle site's attempt 1 of its user 7: the very ids the old installation holds for its own.
        assert api.put_attempt(1, **attempt_fields(1, user_fullname="Someone Else")).status_code == 201
        assert api.post_camshot(png_bytes(), attempt_id=1, user_id=7, client_shot_id="other").status_code == 201
        close_app(app)
        before, keys = tables(url), stored_keys(images)
        target = {**settings_env({"database.url": url, **seaweedfs.settings(prefix)}), "PROCTORPY_SECRET": SECRET,
                  "PROCTORPY_STORAGE_DATA_DIR": str(tmp_path / "new")}
        refused = run_move(old, target)
        assert refused.exit_code == 1 and "belongs to another installation" in refused.output, refused.output
        assert "1 attempts row(s)" in refused.output
        assert tables(url) == before and stored_keys(images) == keys
        assert rows(url, "SELECT fullname FROM users") == [("Someone Else",)]
        # An empty database, but the bucket prefix is the other installation's: refused before any image is copied.
        onto_its_images = {**target, "PROCTORPY_DATABASE_URL": empty_url}
        refused = run_move(old, onto_its_images)
        assert refused.exit_code == 1 and "belongs to another installation" in refused.output, refused.output
        assert "storage.s3.prefix" in refused.output
        assert stored_keys(images) == keys and tables(empty_url)["attempts"] == 0
