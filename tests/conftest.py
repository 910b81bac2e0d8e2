"""Shared fixtures: a real database (a SQLite file in a temp dir, or a PostgreSQL database), a real
image store (the data dir's folder, or a bucket of a SeaweedFS the tests start), real images, a real
gunicorn sidecar.

A test that builds the app through the `config` fixture runs on the embedded backend, `sqlite`
(the SQLite file and the image folder in the data dir), unless it is marked `engines`: then it runs
on `postgresql-s3` too (a database on the server at PROCTORPY_TEST_POSTGRESQL, by default
postgresql://postgres@127.0.0.1:5432, that no other test uses at the same time, and images under a
prefix of their own in the bucket of the session's SeaweedFS). Tests that exercise what differs
between the engines (the database and storage layers, the queue, purge, export, the reports' SQL...)
are marked; a refusal answered before the engines are reached is not.

Each test's database starts migrated and empty, so create_app finds no migration left to apply: a
copy of the SQLite file migrated once per session, or on PostgreSQL a database migrated once per
session and emptied after each test (TRUNCATE) for the next. A test marked `empty_database` starts
from nothing, to test the migrations themselves."""
import contextlib
import http.client
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from sidecar import camshots, create_app
from sidecar.db import connect, migrate, write_transaction
from sidecar.views.connections import close_app
from sidecar.client import SidecarClient, SidecarError, multipart
from sidecar.config import load_config
from sidecar.analysis.faces import load_face_recognition
from sidecar.demo import challenge_pictures, jpeg
from sidecar.signing import signed_headers
from sidecar.storage import database_path, image_store

import moodle_site
from processes import stop_group
from seaweedfs import SeaweedFS

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "testdata" / "faces"
SECRET = "test-secret-0123456789abcdef"
POSTGRESQL_SERVER = os.environ.get("PROCTORPY_TEST_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = ["sqlite", "postgresql-s3"]
# The Moodle journeys' fixtures (the site, the course, the students' attempts), shared by tests/test_moodle_*.py.
pytest_plugins = ["moodle_journey"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that cannot find what it needs (Moodle, a browser, a server) fails and says why: no skip passes."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and this suite never skips: {reason}"


def moodle_group(nodeid):
    """The Moodle release whose site, PHPUnit site and browsers a test of Moodle's shares for the session (its id
    names the release, else it runs on the first); None for every other test."""
    if not nodeid.startswith("tests/test_moodle_"):
        return None
    params = nodeid.partition("[")[2]
    return next((name for name in moodle_site.RELEASES if name in params), moodle_site.FIRST_RELEASE.name)


# After pytest's own ordering by fixtures, which keeps each release's items together but not ahead of the rest.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Moodle's tests first, release by release, the first release's (with every journey) ahead: under `pytest -n`
    they are the longest chains of the run, and the other workers share out the rest meanwhile."""
    order = list(moodle_site.RELEASES)
    items.sort(key=lambda item: order.index(group) if (group := moodle_group(item.nodeid)) else len(order))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under `pytest -n`, each release's Moodle tests go to one worker together (a second would build a second site
    in the same folders); every other test goes to whichever worker is free."""
    from xdist.scheduler import LoadScopeScheduling

    class MoodleTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            group = moodle_group(nodeid)
            return f"moodle-{group}" if group else nodeid

    return MoodleTogether(config, log)


def postgresql_admin():
    """A connection to the server's maintenance database, or a failure that says what is missing."""
    try:
        return psycopg.connect(POSTGRESQL_SERVER + "/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL at {POSTGRESQL_SERVER} cannot be reached, and the postgresql backend's tests need "
                    f"it (user postgres, trust authentication, or set PROCTORPY_TEST_POSTGRESQL): {error}",
                    pytrace=False)


def new_postgresql_database():
    """The URL of a new, empty, uniquely named database."""
    name = "proctorpy_test_" + secrets.token_hex(6)
    with postgresql_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRESQL_SERVER}/{name}"


def drop_postgresql_database(url):
    """Drop a database with whatever still uses it."""
    with postgresql_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextlib.contextmanager
def postgresql_database():
    """The URL of a new, empty, uniquely named database; dropped afterwards with whatever still uses it."""
    url = new_postgresql_database()
    try:
        yield url
    finally:
        drop_postgresql_database(url)


def migrated(location):
    """Apply every migration to the database at location, and say so if one is left over."""
    database = connect(location)
    try:
        migrate(database)
        assert migrate(database) == [], "a second migrate() found work left: tests would not start migrated"
    finally:
        database.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file migrated once for the session; each test's data dir gets a copy."""
    path = database_path(tmp_path_factory.mktemp("sqlite-template"))
    migrated(path)  # the last connection closed: the WAL is checkpointed into the file, which is all to copy
    return path


class MigratedDatabases:
    """PostgreSQL databases migrated once, each emptied after a test for the next one to take.

    Emptied rather than dropped and created again: on PostgreSQL 15 a DROP DATABASE waits for a
    checkpoint of the whole server, which takes seconds when other databases on it are busy.
    """

    def __init__(self):
        self.free, self.made = [], []
        self.schema = None

    def take(self):
        if self.free:
            return self.free.pop()
        url = new_postgresql_database()
        self.made.append(url)
        migrated(url)
        if self.schema is None:
            with psycopg.connect(url, autocommit=True) as conn:
                self.schema = schema_of(conn)
        return url

    def give_back(self, url):
        """Empty the database for the next test: every table but the migrations, their numbering restarted.

        A test's connections left open are ended first (a transaction left open would hold its locks);
        a database whose tables a test changed (renamed, added) is dropped rather than handed on.
        """
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            if schema_of(conn) == self.schema:
                tables = [name for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'")]
                conn.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " RESTART IDENTITY CASCADE")
                self.free.append(url)
                return
        self.made.remove(url)
        drop_postgresql_database(url)

    def drop_all(self):
        for url in self.made:
            drop_postgresql_database(url)


def schema_of(conn):
    """The tables and columns of a database's public schema."""
    return conn.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = 'public' ORDER BY 1, 2").fetchall()


@pytest.fixture(scope="session")
def postgresql_databases():
    """The session's migrated PostgreSQL databases (each xdist worker has its own); dropped at the end."""
    databases = MigratedDatabases()
    yield databases
    databases.drop_all()


def copy_template(template, data_dir):
    """The data dir with the migrated SQLite file in it, as if a sidecar had run there before."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, database_path(data_dir))
    return data_dir


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """One SeaweedFS for the session; each test keeps its images under a prefix of its own."""
    store = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"), bucket="proctorpy-tests")
    try:
        store.start()
    except RuntimeError as error:
        pytest.fail(f"the postgresql-s3 backend's tests need a SeaweedFS, and it could not be started: {error}",
                    pytrace=False)
    yield store
    # Its data goes with the session: no need of weed's clean shutdown, which waits 20 s (its volume server
    # keeps sending heartbeats for 10 s after SIGTERM).
    os.killpg(store.process.pid, signal.SIGKILL)
    store.process.wait()


def pytest_generate_tests(metafunc):
    """A test marked engines runs on every backend; any other test that asks for one gets the embedded one. A test in
    Moodle runs in its first release, or in every release when marked every_moodle (unless it names its own)."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("engines"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)
    named = any("moodle_release" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize"))
    if "moodle_release" in metafunc.fixturenames and not named:
        every = metafunc.definition.get_closest_marker("every_moodle")
        releases = list(moodle_site.RELEASES) if every else [moodle_site.FIRST_RELEASE.name]
        metafunc.parametrize("moodle_release", releases, indirect=True, scope="session")


@pytest.fixture
def backend(request):
    """The engines holding the metadata and the images: the embedded ones unless the test is marked engines."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def empty_database(request):
    """Whether this test's database starts empty (marked empty_database) instead of migrated."""
    return request.node.get_closest_marker("empty_database") is not None


@pytest.fixture
def database_url(backend, empty_database, request):
    """database.url for the backend: empty for the data dir's SQLite file."""
    if backend == "sqlite":
        yield ""
    elif empty_database:
        with postgresql_database() as url:
            yield url
    else:
        databases = request.getfixturevalue("postgresql_databases")
        url = databases.take()
        yield url
        databases.give_back(url)


@pytest.fixture
def image_settings(backend, request):
    """The [storage] settings of the backend's image store: none for the data dir's folder, else a prefix
    of this test's own in the SeaweedFS bucket."""
    if backend == "sqlite":
        return {}
    return request.getfixturevalue("seaweedfs").settings(f"test-{secrets.token_hex(6)}/")


@pytest.fixture
def backend_env(database_url, image_settings):
    """The environment that gives a sidecar process this test's database and image store."""
    return settings_env({"database.url": database_url, **image_settings})


@pytest.fixture
def migrated_data_dir(database_url, empty_database, request):
    """Put the session's migrated SQLite file into a data dir, unless the database is elsewhere or starts empty."""
    def prepare(data_dir):
        if not database_url and not empty_database:
            copy_template(request.getfixturevalue("sqlite_template"), data_dir)
        return data_dir
    return prepare


def settings_env(settings):
    """PROCTORPY_<SECTION>_<KEY> variables of dotted settings, as load_config reads them."""
    return {"PROCTORPY_" + name.replace(".", "_").upper(): str(value) for name, value in settings.items()}


def config_env(config):
    """The environment that gives a sidecar process the database and image store of config."""
    names = ["database.url", "storage.backend"] + [name for name in config if name.startswith("storage.s3.")]
    return settings_env({name: config[name] for name in names})


@pytest.fixture
def config(tmp_path, database_url, image_settings, migrated_data_dir):
    data_dir = migrated_data_dir(tmp_path / "data")
    return load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET,
                                              "database.url": database_url, **image_settings})


def stored_keys(images, top="images"):
    """The sorted keys of every image stored under a top folder (images or references), whichever the store."""
    return sorted(key for key, _ in images.scan([top]))


def convert_originals(database, images):
    """Write the PNG of every camshot still kept as received and drop its original, as the analysis worker does
    (convert_original), without the analysis."""
    db = connect(database)
    try:
        for camshot_id, path in db.execute(
                "SELECT c.id, c.path FROM camshots c JOIN camshot_originals o ON o.camshot_id = c.id").fetchall():
            convert_original(db, images, camshot_id, path)
    finally:
        db.close()


def convert_original(db, images, camshot_id, path):
    """What the analysis worker does to a camshot kept as received, without the analysis: its PNG written
    (camshots.write_png), its original dropped in a transaction (the worker's is the verdict's)."""
    written = camshots.write_png(db, images, camshot_id, path)
    if written is not None:
        with write_transaction(db, exclusive=False):
            camshots.forget_original(db, camshot_id, written.png)
        camshots.discard_if_purged(db, images, camshot_id, path)


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory, sqlite_template):
    """One app on the embedded backend for a whole module, for tests that read what a module fixture seeded once
    (seeding a realistic attempt takes seconds). A test that writes to it changes what the others see: such
    tests take their own app."""
    data_dir = copy_template(sqlite_template, tmp_path_factory.mktemp("shared") / "data")
    app = create_app(load_config(environ={}, overrides={"storage.data_dir": str(data_dir), "security.secret": SECRET}))
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


class SignedTestClient:
    """The Flask test client, signing each request the way Moodle does."""

    def __init__(self, client, secret=SECRET):
        self.client = client
        self.secret = secret

    def open(self, method, path, body=b"", content_type=None, headers=None):
        signed = signed_headers(self.secret, method, path, body)
        signed.update(headers or {})
        return self.client.open(path, method=method, data=body, content_type=content_type, headers=signed)

    def get(self, path):
        return self.open("GET", path)

    def json(self, method, path, payload):
        return self.open(method, path, json.dumps(payload).encode(), "application/json")

    def put_attempt(self, attempt_id=1, **fields):
        return self.json("PUT", f"/api/v1/attempts/{attempt_id}", attempt_fields(attempt_id, **fields))

    def post_camshot(self, image, attempt_id=1, user_id=7, taken_at=None, client_shot_id=None, kind="attempt",
                     content_type="image/png"):
        body, ctype = multipart(
            {"attempt_id": attempt_id, "user_id": user_id, "taken_at": taken_at or int(time.time() * 1000),
             "client_shot_id": client_shot_id or secrets.token_hex(8), "kind": kind},
            {"image": ("shot.png", image, content_type)},
        )
        return self.open("POST", "/api/v1/camshots", body, ctype)


def attempt_fields(attempt_id=1, **fields):
    """A realistic PUT /api/v1/attempts body; keyword arguments override fields."""
    body = {
        "user_id": 7, "user_fullname": "Ada Lovelace", "course_id": 3, "course_name": "Analytical Engines",
        "quiz_id": 11, "cm_id": 42, "quiz_name": "Midterm", "started_at": int(time.time()) - 600,
        "interval_min": 20, "interval_max": 40, "identity_check": "match", "threshold": 70,
    }
    body.update(fields)
    return body


@pytest.fixture
def api(client):
    return SignedTestClient(client)


def query(app, sql, params=()):
    """The rows a statement reads from an app's database, on a connection of its own."""
    db = connect(app.config["DATABASE"])
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def png_bytes(width=320, height=240, colour=(90, 120, 150)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def png_declaring(width, height):
    """A PNG whose header claims width x height, with no pixels: refused for its size, or else as corrupt."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"\0\0\0\0IEND\xaeB`\x82"


def face_bytes(relative, width=None, fmt="PNG"):
    """A shared test photo re-encoded (optionally scaled) as PNG or JPEG bytes."""
    with Image.open(FACES / relative) as image:
        image = image.convert("RGB")
        if width:
            image = image.resize((width, round(image.height * width / image.width)))
        out = io.BytesIO()
        image.save(out, format=fmt)
        return out.getvalue()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IngestLoad:
    """Clients posting camshots for an attempt (1, of user 7, unless told) until stopped, keeping what was
    acknowledged.

    A refusal or an answer cut off (the sidecar killed mid-request) is not an acknowledgement: only
    camshots in `acknowledged` (client_shot_id: camshot id) must survive whatever a test does.
    """

    def __init__(self, client, clients=3, attempt_id=1, user_id=7):
        self.client = client
        self.attempt_id, self.user_id = attempt_id, user_id
        self.acknowledged, self.refused = {}, []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.post_until_stopped, args=(i,)) for i in range(clients)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def snapshot(self):
        with self.lock:
            return dict(self.acknowledged)

    def post_until_stopped(self, worker):
        n = 0
        while not self.stopping.is_set():
            n += 1
            client_shot_id = f"w{worker}-{n}"
            image = png_bytes(320, 240, (worker * 70 % 256, n % 256, 40))
            try:
                _, body = self.client.post_camshot(self.attempt_id, self.user_id, int(time.time() * 1000), image,
                                                   client_shot_id)
            except SidecarError as error:
                self.refused.append(error.status)
                continue
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)  # down or cut off mid-request: never acknowledged
                continue
            with self.lock:
                self.acknowledged[client_shot_id] = body["id"]


class LiveSidecar:
    """`proctorpy serve` (gunicorn) on a loopback port with its own data dir."""

    def __init__(self, data_dir, env=None):
        self.data_dir = Path(data_dir)
        # What sidecar.db.connect takes to read what this sidecar stored.
        self.database = (env or {}).get("PROCTORPY_DATABASE_URL") or self.data_dir / "proctorpy.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = SECRET
        self.env = {
            **os.environ,
            "PROCTORPY_SECRET": SECRET,
            "PROCTORPY_STORAGE_DATA_DIR": str(self.data_dir),
            "PROCTORPY_SERVER_PORT": str(self.port),
            "PROCTORPY_SERVER_WORKERS": "2",
            "PROCTORPY_ANALYSIS_WITH_SERVER": "false",
            # Load tests post far faster than a student's camera; the tests of the allowance set their own.
            "PROCTORPY_CAPTURE_MAX_SHOTS_PER_MINUTE": "1000000000",
            **(env or {}),
        }
        self.process = None
        self.log = self.data_dir.parent / f"sidecar-{self.port}.log"
        self.client = SidecarClient(self.url, SECRET)

    @property
    def images(self):
        """The image store this sidecar writes to, to look at what it stored."""
        return image_store(load_config(environ=self.env))

    def start(self, timeout=30):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sidecar.cli", "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("sidecar exited: " + self.log.read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sidecar did not answer /healthz in time: " + self.log.read_text()[-3000:])

    def stop(self):
        stop_group(self.process)
        self.process = None

    @contextlib.contextmanager
    def stopped(self, timeout=30):
        """The sidecar down for the block, as when its server is; started again after it, whatever the block did."""
        self.stop()
        try:
            yield
        finally:
            self.start(timeout)

    def gunicorn_worker_pids(self):
        master = int((self.data_dir / "gunicorn.pid").read_text())
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def sign_headers(self, method, path_and_query, body=b""):
        return signed_headers(SECRET, method, path_and_query, body)


@pytest.fixture
def live_sidecar(tmp_path, backend_env, migrated_data_dir):
    sidecar = LiveSidecar(migrated_data_dir(tmp_path / "live"), env=backend_env).start()
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="session")
def playwright():
    """Playwright's driver, one for the session and every test that opens Chromium: its sync API runs an event loop
    in this thread, and a second driver started beside it in the same process would refuse to start."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the python package playwright is missing from the venv", pytrace=False)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def moodle_release(request):
    """The Moodle release (moodle_site.Release) a test runs in: its item id names it, e.g. [5.1.3]."""
    return moodle_site.RELEASES[request.param]


@pytest.fixture(scope="session")
def moodle_code(moodle_release):
    """The release's code with nothing installed: a folder the code checker and grunt read from."""
    try:
        return moodle_site.unpack_moodle(moodle_release, moodle_release.code)
    except moodle_site.MoodleUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def moodle_phpunit(moodle_release, moodle_code):
    """Moodle's own PHPUnit, its test site installed with the working tree's plugin."""
    site = moodle_site.MoodleSite(moodle_code, moodle_release)
    try:
        site.setup_phpunit()
    except moodle_site.MoodleUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    return site


def identity_challenge(api, attempt_id=1, user_id=7):
    """POST .../identity/challenge: the liveness challenge of the attempt's next identity check (the response)."""
    return api.json("POST", f"/api/v1/attempts/{attempt_id}/identity/challenge", {"user_id": user_id})


def challenge_frames(relative, challenge, seed=0):
    """JPEG frames a webcam takes of the face in this shared photo while its student follows the challenge."""
    rng = random.Random(seed)
    return [jpeg(picture) for picture in challenge_pictures(FACES / relative, challenge, rng, load_face_recognition())]


def post_frames(api, frames, challenge_id, attempt_id=1, user_id=7, client_shot_id=None, taken_at=None):
    """POST .../identity with these frames (bytes) as the answer to the challenge."""
    body, ctype = multipart(
        {"user_id": user_id, "taken_at": taken_at or int(time.time() * 1000),
         "client_shot_id": client_shot_id or secrets.token_hex(8), "challenge_id": challenge_id},
        {"frame": [(f"frame{n}.jpg", frame, "image/jpeg") for n, frame in enumerate(frames)]},
    )
    return api.open("POST", f"/api/v1/attempts/{attempt_id}/identity", body, ctype)


def post_identity(api, relative, attempt_id=1, user_id=7, client_shot_id=None, taken_at=None):
    """The identity check of a student filmed from this photo, who follows the challenge the sidecar draws; the
    challenge's refusal when it draws none."""
    drawn = identity_challenge(api, attempt_id, user_id)
    if drawn.status_code != 201:
        return drawn
    return post_frames(api, challenge_frames(relative, drawn.json["kind"]), drawn.json["id"], attempt_id, user_id,
                       client_shot_id, taken_at)
