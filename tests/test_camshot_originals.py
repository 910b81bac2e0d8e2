"""Camshots kept as received until the analysis worker writes their PNG: every reader sees the PNG they will
have, every deleter removes the original, repair, backup and move know both."""
import csv
import hashlib
import io
import zipfile

import pytest
from PIL import Image

from conftest import face_bytes, png_declaring, query, stored_keys
from sidecar import camshots
from sidecar.analysis import camshots as analysed, queue
from sidecar.analysis.worker import work
from sidecar.backup import backup, restore
from sidecar.db import connect
from sidecar.storage.repair import repair


def post_jpeg(api, client_shot_id="shot-1"):
    """A 854 pixels wide JPEG from a camera, as the browser posts it; (its bytes, the camshot's id)."""
    jpeg = face_bytes("obama/obama-480p.jpg", fmt="JPEG")
    response = api.post_camshot(jpeg, content_type="image/jpeg", client_shot_id=client_shot_id)
    assert response.status_code == 201, response.json
    return jpeg, response.json["id"]


def expected_png(app, jpeg):
    """The PNG the request used to store for this upload: decoded, scaled to storage.max_width, encoded."""
    config = app.config["PROCTORPY"]
    original = camshots.Original(jpeg, config["storage.max_width"], config["storage.png_compress_level"],
                                 camshots.stored_palette_colors(config))
    return camshots.converted(original)


def full_image(api, camshot_id):
    response = api.get(f"/api/v1/camshots/{camshot_id}/image")
    assert response.status_code == 200, response.json
    return response.data


@pytest.mark.engines
def test_a_camshot_is_kept_as_received_served_as_its_png_and_converted_by_the_worker(app, api):
    api.put_attempt(1)
    jpeg, camshot_id = post_jpeg(api)
    images = app.config["IMAGES"]
    assert stored_keys(images) == []
    assert query(app, "SELECT bytes, sha256, width, height FROM camshots") == [
        (len(jpeg), hashlib.sha256(jpeg).hexdigest(), 640, 360)]
    before = full_image(api, camshot_id)
    assert before == expected_png(app, jpeg)
    with Image.open(io.BytesIO(before)) as image:
        assert (image.format, image.size) == ("PNG", (640, 360))
    thumb = api.get(f"/api/v1/camshots/{camshot_id}/image?size=thumb")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.data)).width == 160

    assert work(app.config["PROCTORPY"], until_idle=True) == 1
    path = query(app, "SELECT path FROM camshots")[0][0]
    assert stored_keys(images) == [path]
    assert images.get(path) == before
    assert query(app, "SELECT count(*) FROM camshot_originals") == [(0,)]
    assert query(app, "SELECT bytes, sha256, status FROM camshots") == [
        (len(before), hashlib.sha256(before).hexdigest(), "ok")]
    assert full_image(api, camshot_id) == before


def test_a_conversion_cut_short_is_finished_by_the_next_try(app, api):
    """A worker killed after writing the PNG and before dropping the original: its retry writes the same bytes."""
    api.put_attempt(1)
    jpeg, camshot_id = post_jpeg(api)
    images = app.config["IMAGES"]
    path = query(app, "SELECT path FROM camshots")[0][0]
    images.put(path, expected_png(app, jpeg))  # what the killed worker had written
    assert work(app.config["PROCTORPY"], until_idle=True) == 1
    assert stored_keys(images) == [path] and images.get(path) == expected_png(app, jpeg)
    assert query(app, "SELECT count(*) FROM camshot_originals") == [(0,)]


class PurgedDuringPut:
    """The real image store, with a purge of the attempt landing while the worker writes a PNG to it."""

    def __init__(self, images, purge):
        self.images, self.purge = images, purge

    def put(self, key, data):
        self.purge()
        self.images.put(key, data)

    def __getattr__(self, name):
        return getattr(self.images, name)


def test_a_worker_that_lost_its_lease_leaves_the_original_to_the_one_that_has_the_job(app, api):
    """The original goes in the verdict's transaction: a worker whose claim another took meanwhile writes
    neither, and the worker that holds the job converts it, to the same bytes."""
    api.put_attempt(1)
    jpeg, _ = post_jpeg(api)
    config, images = app.config["PROCTORPY"], app.config["IMAGES"]
    db = connect(app.config["DATABASE"])
    try:
        stalled = queue.claim(db, "stalled", lease_seconds=60)
        db.execute("UPDATE jobs SET lease_until = 0")  # its lease runs out while it analyses
        holder = queue.claim(db, "holder", lease_seconds=60)
        assert analysed.process(db, config, images, stalled) is None
        assert query(app, "SELECT count(*) FROM camshot_originals") == [(1,)]
        assert query(app, "SELECT status, bytes FROM camshots") == [("pending", len(jpeg))]
        assert analysed.process(db, config, images, holder).status == "ok"
    finally:
        db.close()
    path = query(app, "SELECT path FROM camshots")[0][0]
    assert stored_keys(images) == [path] and images.get(path) == expected_png(app, jpeg)
    assert query(app, "SELECT count(*) FROM camshot_originals") == [(0,)]
    assert query(app, "SELECT bytes, status FROM camshots") == [(len(expected_png(app, jpeg)), "ok")]


def test_a_camshot_purged_while_the_worker_analyses_it_leaves_no_png(app, api):
    api.put_attempt(1)
    post_jpeg(api)
    images = PurgedDuringPut(app.config["IMAGES"], lambda: api.json(
        "POST", "/api/v1/purge", {"attempt_id": 1, "dry_run": False}))
    db = connect(app.config["DATABASE"])
    try:
        job = queue.claim(db, "worker", lease_seconds=60)
        assert analysed.process(db, app.config["PROCTORPY"], images, job) is None
    finally:
        db.close()
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]
    assert stored_keys(app.config["IMAGES"]) == []


class WorkerDuringPurge:
    """The real image store, with a worker converting and analysing a camshot while a purge batch is between
    deleting its images and deleting its rows."""

    def __init__(self, images, work):
        self.images, self.work = images, work

    def delete_many(self, keys):
        self.images.delete_many(keys)
        work, self.work = self.work, None
        if work:
            work()

    def __getattr__(self, name):
        return getattr(self.images, name)


def test_a_png_written_between_a_purges_image_and_row_deletes_is_deleted_with_the_rows(app, api):
    api.put_attempt(1)
    post_jpeg(api)
    images = app.config["IMAGES"]
    db = connect(app.config["DATABASE"])
    meanwhile = []  # the verdict, and the images stored once the worker was done

    def work():
        job = queue.claim(db, "worker", lease_seconds=60)
        meanwhile.append((analysed.process(db, app.config["PROCTORPY"], images, job).status, len(stored_keys(images))))

    try:
        app.config["IMAGES"] = WorkerDuringPurge(images, work)
        response = api.json("POST", "/api/v1/purge", {"attempt_id": 1, "dry_run": False})
    finally:
        app.config["IMAGES"] = images
        db.close()
    assert response.status_code == 200, response.json
    assert meanwhile == [("ok", 1)]  # its row was still there: the worker kept the PNG
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]
    assert stored_keys(images) == []


@pytest.mark.engines
def test_the_report_pdf_and_the_exports_show_a_camshot_not_converted_yet(app, api):
    api.put_attempt(1)
    jpeg, camshot_id = post_jpeg(api)
    pdf = api.get("/api/v1/attempts/1/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    for download in (lambda: api.json("POST", "/api/v1/exports", {"attempt_id": 1}),
                     lambda: api.get("/api/v1/users/7/data")):
        response = download()  # a stream, read before the next request
        assert response.status_code == 200
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            manifest = list(csv.DictReader(io.TextIOWrapper(archive.open("manifest.csv"), encoding="utf-8")))
            shot = [entry for entry in manifest if entry["file"].endswith(f"_{camshot_id}.png")]
            assert len(shot) == 1
            stored = archive.read(shot[0]["file"])
            assert "problems.csv" not in archive.namelist()
        assert stored == expected_png(app, jpeg)
        assert shot[0]["sha256"] == hashlib.sha256(stored).hexdigest()
    assert stored_keys(app.config["IMAGES"]) == []  # reading converts on the fly; the worker stores


@pytest.mark.engines
@pytest.mark.parametrize("delete", ["purge", "privacy"])
def test_a_purge_and_a_privacy_delete_remove_the_original(app, api, delete):
    api.put_attempt(1)
    post_jpeg(api, "kept-as-received")
    post_jpeg(api, "converted")
    work(app.config["PROCTORPY"], until_idle=True)
    post_jpeg(api, "arrived-after-analysis")
    assert query(app, "SELECT count(*) FROM camshot_originals") == [(1,)]
    if delete == "purge":
        response = api.json("POST", "/api/v1/purge", {"user_id": 7, "dry_run": False})
    else:
        response = api.open("DELETE", "/api/v1/users/7")
    assert response.status_code == 200, response.json
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]
    assert query(app, "SELECT count(*) FROM camshot_originals") == [(0,)]
    assert stored_keys(app.config["IMAGES"]) == []


@pytest.mark.engines
def test_repair_leaves_a_camshot_kept_as_received_and_marks_a_lost_png(app, api):
    api.put_attempt(1)
    _, converted_id = post_jpeg(api, "converted")
    work(app.config["PROCTORPY"], until_idle=True)
    _, pending_id = post_jpeg(api, "kept-as-received")
    images = app.config["IMAGES"]
    images.delete(query(app, "SELECT path FROM camshots WHERE id = ?", [converted_id])[0][0])
    db = connect(app.config["DATABASE"])
    try:
        counts = repair(db, images)
    finally:
        db.close()
    assert counts["missing_files"] == 1 and counts["orphan_files_removed"] == 0
    assert dict(query(app, "SELECT id, status FROM camshots")) == {converted_id: "unreadable", pending_id: "pending"}
    assert full_image(api, pending_id).startswith(b"\x89PNG")


def test_a_backup_restores_a_camshot_kept_as_received(app, api, tmp_path):
    api.put_attempt(1)
    jpeg, camshot_id = post_jpeg(api)
    report = backup(app.config["DATA_DIR"], tmp_path / "backup")
    assert report["missing_files"] == [] and report["mismatched_files"] == [] and report["camshots"] == 1
    restored = tmp_path / "restored"
    restore(tmp_path / "backup", restored)
    db = connect(restored / "proctorpy.db")
    try:
        assert camshots.originals(db, [camshot_id])[camshot_id][0] == jpeg
    finally:
        db.close()


@pytest.mark.engines
@pytest.mark.parametrize("image, status", [
    (face_bytes("obama/obama-480p.jpg", fmt="JPEG")[:-4000], 415),  # cut short
    (png_declaring(5000, 5000), 413),
    (b"GIF89a" + bytes(64), 415),
], ids=["cut-short", "5000x5000", "gif"])
def test_a_bad_image_is_refused_and_nothing_is_kept(app, api, image, status):
    api.put_attempt(1)
    response = api.post_camshot(image, content_type="image/jpeg")
    assert response.status_code == status, response.json
    assert query(app, "SELECT count(*) FROM camshots") == [(0,)]
    assert query(app, "SELECT count(*) FROM camshot_originals") == [(0,)]
