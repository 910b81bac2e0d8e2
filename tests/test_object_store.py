"""The image store on both backends (the data dir's folder, a SeaweedFS bucket): writes, reads, lists
and deletes, a missing image, a store that does not answer, orphan repair with its grace period, and
an image removed again when its row cannot be committed."""
import time

import pytest
from click.testing import CliRunner

from conftest import (
    SECRET, SignedTestClient, config_env, convert_originals, free_port, png_bytes, settings_env, stored_keys,
)
from sidecar import create_app, storage
from sidecar.analysis import camshots as camshot_analysis
from sidecar.analysis import queue
from sidecar.cli import cli
from sidecar.config import load_config
from sidecar.db import connect
from sidecar.errors import ImageStoreUnavailable
from sidecar.storage.repair import remove_orphans
from sidecar.storage.s3 import DELETE_BATCH, S3Store
from sidecar.views.connections import close_app

# The image stores themselves: every test here runs on both backends.
pytestmark = pytest.mark.engines


@pytest.fixture
def images(config):
    return storage.image_store(config)


def test_write_read_list_and_delete(images):
    keys = [f"images/3/11/1/{storage.new_id()}.png" for _ in range(3)]
    for n, key in enumerate(keys):
        images.put(key, b"png %d" % n)
    images.put("references/7/" + storage.new_id() + ".png", b"reference")
    assert [images.get(key) for key in keys] == [b"png 0", b"png 1", b"png 2"]
    assert stored_keys(images) == sorted(keys)
    assert len(stored_keys(images, "references")) == 1
    modified = dict(images.scan(["images"]))
    assert all(abs(modified[key] - time.time()) < 120 for key in keys)
    with images.open(keys[1]) as reader:
        assert reader.read(2) + reader.read() == b"png 1"

    images.delete(keys[0])
    images.delete(keys[0])  # already gone: not an error
    images.delete_many([keys[1], keys[2], "images/3/11/1/never-stored.png"])
    assert stored_keys(images) == []


def test_a_missing_image_is_file_not_found_and_a_404(images, app, api):
    with pytest.raises(FileNotFoundError):
        images.get("images/3/11/1/00000000000000000000.png")
    with pytest.raises(FileNotFoundError):
        images.open("images/3/11/1/00000000000000000000.png")
    api.put_attempt(1)
    camshot_id = api.post_camshot(png_bytes()).json["id"]
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    app.config["IMAGES"].delete_many(stored_keys(app.config["IMAGES"]))
    response = api.get(f"/api/v1/camshots/{camshot_id}/image")
    assert response.status_code == 404 and response.json["error"] == "image_missing"


def test_a_purge_batch_deletes_more_objects_than_one_request_takes(seaweedfs):
    images = S3Store.from_config(load_config(environ={}, overrides=seaweedfs.settings(f"batch-{storage.new_id()}/")))
    keys = [f"images/1/1/1/{n:05d}.png" for n in range(DELETE_BATCH + 5)]
    client = seaweedfs.client()
    for key in keys:  # straight through one client: the store's own put is tested above
        client.put_object(Bucket=images.bucket, Key=images.prefix + key, Body=b"x")
    assert len(stored_keys(images)) == len(keys)
    images.delete_many(keys)
    assert stored_keys(images) == []


def dead_store_settings():
    """S3 settings whose endpoint nothing listens on: a store that does not answer."""
    return {"storage.backend": "s3", "storage.s3.endpoint": f"http://127.0.0.1:{free_port()}",
            "storage.s3.bucket": "nowhere", "storage.s3.access_key": "a", "storage.s3.secret_key": "b",
            "storage.s3.timeout": 2}


def test_a_store_that_does_not_answer_raises_a_clear_error():
    images = storage.image_store(load_config(environ={}, overrides=dead_store_settings()))
    for call in (lambda: images.put("images/1/1/1/a.png", b"x"), lambda: images.get("images/1/1/1/a.png"),
                 lambda: images.delete_many(["images/1/1/1/a.png"]), lambda: list(images.scan(["images"])),
                 images.probe):
        with pytest.raises(ImageStoreUnavailable) as refused:
            call()
        assert "s3 bucket nowhere at http://127.0.0.1:" in refused.value.message
        assert refused.value.status == 503
    images.discard("images/1/1/1/a.png")  # after a failed commit: logged, never raised over the real error


def test_camshots_are_taken_while_the_bucket_does_not_answer_and_kept_as_received(tmp_path):
    """A camshot of the quiz is acknowledged without the bucket: its PNG is the analysis worker's to write, which
    puts its job back while the bucket is down (below)."""
    config = load_config(environ={}, overrides={"storage.data_dir": str(tmp_path / "data"), "security.secret": SECRET,
                                                **dead_store_settings()})
    app = create_app(config)
    try:
        api = SignedTestClient(app.test_client())
        api.put_attempt(1)
        response = api.post_camshot(png_bytes(), client_shot_id="while-down")
        assert response.status_code == 201, response.get_data(as_text=True)
        db = connect(app.config["DATABASE"])
        try:
            assert db.execute("SELECT count(*) FROM camshot_originals").fetchone()[0] == 1
        finally:
            db.close()
    finally:
        close_app(app)


def test_analysis_puts_a_job_back_uncounted_while_the_store_does_not_answer(config, app, api):
    api.put_attempt(1)
    camshot_id = api.post_camshot(png_bytes()).json["id"]
    dead = storage.image_store(load_config(environ={}, overrides=dead_store_settings()))
    db = connect(app.config["DATABASE"])
    try:
        job = queue.claim(db, "test-worker", 60)
        assert job.camshot_id == camshot_id and job.tries == 1
        with pytest.raises(ImageStoreUnavailable):
            camshot_analysis.process(db, config, dead, job)
        queue.put_back(db, job, "store down")
        state, tries = db.execute("SELECT state, tries FROM jobs WHERE camshot_id = ?", [camshot_id]).fetchone()
        status = db.execute("SELECT status FROM camshots WHERE id = ?", [camshot_id]).fetchone()[0]
    finally:
        db.close()
    assert (state, tries, status) == ("queued", 0, "pending")


def test_a_failed_row_commit_removes_the_stored_image(app, api):
    api.put_attempt(1)
    db = connect(app.config["DATABASE"])
    try:
        # The camshot's job row cannot be written: the commit of its row fails after the image was stored.
        db.execute("ALTER TABLE jobs RENAME TO jobs_away")
        assert api.post_camshot(png_bytes(), client_shot_id="not-committed").status_code == 500
    finally:
        db.execute("ALTER TABLE jobs_away RENAME TO jobs")
        db.close()
    assert stored_keys(app.config["IMAGES"]) == []
    db = connect(app.config["DATABASE"])
    try:
        assert db.execute("SELECT count(*) FROM camshots").fetchone()[0] == 0
    finally:
        db.close()
    assert api.post_camshot(png_bytes(), client_shot_id="not-committed").status_code == 201  # a retry is stored


def test_repair_deletes_orphans_past_their_grace_only_and_marks_rows_whose_image_is_gone(app, api):
    images = app.config["IMAGES"]
    api.put_attempt(1)
    kept = api.post_camshot(png_bytes(), client_shot_id="kept").json["id"]
    lost = api.post_camshot(png_bytes(), client_shot_id="lost").json["id"]
    convert_originals(app.config["DATABASE"], images)
    orphan = storage.camshot_path(3, 11, 1, storage.new_id()).as_posix()
    images.put(orphan, png_bytes())  # stored, its row never committed (or an upload about to commit it)
    images.delete(storage.camshot_path(3, 11, 1, lost).as_posix())
    db = connect(app.config["DATABASE"])
    try:
        young = storage.repair(db, images, grace_seconds=storage.ORPHAN_GRACE_SECONDS)
        assert young == {"temp_removed": 0, "orphan_files_removed": 0, "missing_files": 1}
        assert orphan in stored_keys(images)
        old = storage.repair(db, images, grace_seconds=storage.ORPHAN_GRACE_SECONDS,
                             now=time.time() + storage.ORPHAN_GRACE_SECONDS + 5)
        assert old["orphan_files_removed"] == 1
        statuses = dict(db.execute("SELECT id, status FROM camshots").fetchall())
    finally:
        db.close()
    assert stored_keys(images) == [storage.camshot_path(3, 11, 1, kept).as_posix()]
    assert statuses == {kept: "pending", lost: "unreadable"}


def test_repair_keeps_an_old_image_whose_row_was_committed_while_it_listed(app, api):
    images = app.config["IMAGES"]
    api.put_attempt(1)
    camshot_id = api.post_camshot(png_bytes()).json["id"]
    convert_originals(app.config["DATABASE"], images)
    key = storage.camshot_path(3, 11, 1, camshot_id).as_posix()
    db = connect(app.config["DATABASE"])
    try:
        # As if listed before its row was read: the rows are asked again before anything is deleted.
        assert remove_orphans(db, images, [key]) == 0
    finally:
        db.close()
    assert stored_keys(images) == [key]


def test_check_says_which_image_store_is_in_use_and_that_it_answers(config, app):
    runner = CliRunner()
    env = {"PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir), "PROCTORPY_SECRET": SECRET, **config_env(config)}
    result = runner.invoke(cli, ["check"], env=env)
    line = next(line for line in result.output.splitlines() if line.startswith("images:"))
    if config["storage.backend"] == "s3":
        assert line.startswith(f"images: ok (s3 bucket {config['storage.s3.bucket']} at {config['storage.s3.endpoint']}")
        assert "a probe object written, read and deleted" in line
    else:
        assert line == f"images: ok (folder {config.data_dir}: writable)"
    assert stored_keys(app.config["IMAGES"]) == []  # the probe is gone


def test_check_names_a_bucket_that_does_not_answer(tmp_path):
    env = {"PROCTORPY_STORAGE_DATA_DIR": str(tmp_path), "PROCTORPY_SECRET": SECRET,
           **settings_env(dead_store_settings())}
    result = CliRunner().invoke(cli, ["check"], env=env)
    assert result.exit_code == 1
    assert "PROBLEM images: s3 bucket nowhere at http://127.0.0.1:" in result.output


def test_backup_says_how_to_back_up_postgresql_and_the_bucket(tmp_path):
    env = {"PROCTORPY_STORAGE_DATA_DIR": str(tmp_path), "PROCTORPY_SECRET": SECRET,
           "PROCTORPY_DATABASE_URL": "postgresql://proctorpy@db.example.edu/proctorpy", **settings_env(dead_store_settings())}
    result = CliRunner().invoke(cli, ["backup", str(tmp_path / "dest")], env=env)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "pg_dump" in message and "bucket nowhere" in message and "versioning" in message
    assert not (tmp_path / "dest").exists()


def test_with_images_in_a_bucket_the_data_dirs_free_space_floor_refuses_nothing(seaweedfs, tmp_path):
    config = load_config(environ={}, overrides={
        "storage.data_dir": str(tmp_path / "data"), "security.secret": SECRET, "storage.min_free_bytes": 2**62,
        **seaweedfs.settings(f"floor-{storage.new_id()}/")})
    app = create_app(config)
    try:
        api = SignedTestClient(app.test_client())
        api.put_attempt(1)
        assert api.post_camshot(png_bytes()).status_code == 201
        health = app.test_client().get("/healthz").json
        assert health["status"] == "ok" and health["images"] == "s3"
    finally:
        close_app(app)
