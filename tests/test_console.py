"""The admin console: sign-in (SSO, local), sessions, CSRF, headers, pages and their audit rows."""
import csv
import dataclasses
import io
import json
import re
import statistics
import threading
import time
import zipfile

import pytest
import requests
from click.testing import CliRunner

from conftest import SECRET, LiveSidecar, attempt_fields, png_bytes
from processes import wait_for
from sidecar import audit, create_app
from sidecar.cli import cli
from sidecar.config import load_config
from sidecar.console import admins
from sidecar.db import connect, write_transaction
from sidecar.retention import purge
from sidecar.signing import make_token
from sidecar.views.connections import close_app
from test_retention import NOW, image_files, seed


def sso_token(secret=SECRET, **changes):
    payload = {"p": "sso", "uid": 2, "name": "Admin User", "exp": int(time.time()) + 60,
               "n": changes.pop("n", None) or f"{time.time_ns():x}"}
    payload.update(changes)
    return make_token(secret, payload)


def sign_in(client):
    response = client.get("/console/sso?token=" + sso_token())
    assert response.status_code == 200, response.data
    return response


def csrf_of(client, path="/console/"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def audit_actions(app):
    db = connect(app.config["DATABASE"])
    try:
        return [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    finally:
        db.close()


def purge_and_follow(console, form):
    """Confirm a purge as the page does, follow its progress until it is done; the run's page once done."""
    started = console.post("/console/purge", data={"csrf_token": csrf_of(console, "/console/purge"), **form})
    assert started.status_code == 303, started.data
    run = started.headers["Location"]
    assert re.fullmatch(r"/console/purge/runs/\d+", run), run
    wait_for(lambda: console.get(run + "/progress").get_json()["state"] == "done", 30, "the purge to finish")
    return console.get(run).get_data(as_text=True)


@pytest.fixture
def console(app, client):
    sign_in(client)
    return client


# --- sign-in -------------------------------------------------------------------------------------

@pytest.mark.engines
def test_sso_signs_in_once_with_a_strict_http_only_cookie(app, client):
    token = sso_token()
    response = client.get("/console/sso?token=" + token)
    assert response.status_code == 200
    assert 'http-equiv="refresh"' in response.get_data(as_text=True)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # the public URL is http here
    page = client.get("/console/")
    assert page.status_code == 200 and "Admin User" in page.get_data(as_text=True)
    replay = app.test_client().get("/console/sso?token=" + token)
    assert replay.status_code == 401 and "used already" in replay.get_data(as_text=True)
    db = connect(app.config["DATABASE"])
    row = db.execute("SELECT actor_type, actor_id, actor_name FROM audit_log WHERE action = 'console_sign_in'").fetchone()
    assert row == ("console", "moodle:2", "Admin User")


@pytest.mark.parametrize("token, code", [
    (lambda: sso_token(exp=int(time.time()) - 1), "token_expired"),
    (lambda: sso_token(exp=int(time.time()) + 3600), "bad_token"),
    (lambda: sso_token(secret="another-secret-0123456789"), "bad_token"),
    (lambda: sso_token(p="upload"), "bad_token"),
    (lambda: sso_token(n="short"), "bad_token"),
    (lambda: sso_token(uid="2"), "bad_token"),
    (lambda: sso_token()[:-4] + "0000", "bad_token"),
    (lambda: "v1.garbage", "bad_token"),
    (lambda: "", "bad_token"),
])
def test_bad_sso_tokens_are_refused(client, token, code):
    response = client.get("/console/sso?token=" + token(), headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json["error"] == code
    assert client.get("/console/").status_code == 302


def test_sso_vector_token_is_read_as_the_shared_vectors_say(tmp_path):
    vectors = json.loads((__import__("pathlib").Path(__file__).parent / "vectors" / "signing.json").read_text())
    vector = next(t for t in vectors["tokens"] if t["payload"].get("p") == "sso")
    from sidecar.signing import read_token

    assert read_token(vector["secret"], vector["token"], vector["payload"]["exp"] - 30) == vector["payload"]


@pytest.mark.engines
def test_local_admin_signs_in_with_scrypt_password(app, client):
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        admins.create(db, "alice", "correct horse battery")
    stored = db.execute("SELECT password_hash FROM admins").fetchone()[0]
    assert stored.startswith("scrypt$32768$8$1$") and "correct" not in stored
    token = csrf_of(client, "/console/login")
    wrong = client.post("/console/login", data={"csrf_token": token, "name": "alice", "password": "nope"})
    assert wrong.status_code == 401 and "wrong" in wrong.get_data(as_text=True)
    unknown = client.post("/console/login", data={"csrf_token": token, "name": "bob", "password": "x" * 20})
    assert unknown.status_code == 401
    right = client.post("/console/login?next=/console/audit",
                        data={"csrf_token": token, "name": "alice", "password": "correct horse battery"})
    assert right.status_code == 302 and right.headers["Location"] == "/console/audit"
    assert client.get("/console/").status_code == 200
    assert audit_actions(app) == ["console_sign_in_failed", "console_sign_in_failed", "console_sign_in"]


@pytest.fixture
def throttled(config):
    """An app whose sign-in locks after 3 wrong passwords for a name, or 5 from an address."""
    app = create_app(load_config(environ={}, overrides={
        **config, "console.sign_in_failures_per_account": 3, "console.sign_in_failures_per_address": 5,
        "console.sign_in_lockout_seconds": 600}))
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        admins.create(db, "alice", "correct horse battery")
    db.close()
    yield app
    close_app(app)


def sign_in_as(client, name, password, address="127.0.0.1"):
    token = csrf_of(client, "/console/login")
    return client.post("/console/login", data={"csrf_token": token, "name": name, "password": password},
                       headers={"Accept": "application/json"}, environ_base={"REMOTE_ADDR": address})


def audit_rows(app, action):
    db = connect(app.config["DATABASE"])
    try:
        return db.execute("SELECT actor_id, selection, detail FROM audit_log WHERE action = ? ORDER BY id",
                          [action]).fetchall()
    finally:
        db.close()


@pytest.mark.engines
def test_wrong_passwords_for_a_name_lock_it_with_429_and_retry_after(throttled):
    client = throttled.test_client()
    assert [sign_in_as(client, "alice", f"guess {n}").status_code for n in range(3)] == [401, 401, 401]
    locked = sign_in_as(client, "alice", "correct horse battery")
    assert locked.status_code == 429 and locked.json["error"] == "sign_in_locked"
    assert 595 <= int(locked.headers["Retry-After"]) <= 600
    assert f"{locked.headers['Retry-After']} s" in locked.json["message"]
    assert audit_rows(throttled, "console_sign_in_locked") == [
        ("local:alice", '{"account": "alice", "address": "127.0.0.1"}', "3 wrong passwords; sign-in refused for 600 s")]
    assert [row[:2] for row in audit_rows(throttled, "console_sign_in_refused")] == [
        ("local:alice", '{"address": "127.0.0.1"}')]
    assert client.get("/console/").status_code == 302  # the right password did not sign in
    page = client.post(  # a browser is shown the refusal as a page, with the same header
        "/console/login", data={"csrf_token": csrf_of(client, "/console/login"), "name": "alice", "password": "x"})
    assert page.status_code == 429 and page.mimetype == "text/html" and "Retry-After" in page.headers
    assert "Too many wrong passwords" in page.get_data(as_text=True)
    assert len(audit_rows(throttled, "console_sign_in_refused")) == 2  # every refusal is audited
    assert sign_in_as(client, "bob", "another guess").status_code == 401  # other names are still heard


@pytest.mark.engines
def test_wrong_passwords_from_one_address_do_not_lock_the_admin_out_from_another(throttled):
    client = throttled.test_client()
    assert [sign_in_as(client, "alice", f"guess {n}", "203.0.113.7").status_code for n in range(3)] == [401] * 3
    assert sign_in_as(client, "alice", "correct horse battery", "203.0.113.7").status_code == 429
    assert sign_in_as(throttled.test_client(), "alice", "correct horse battery", "198.51.100.2").status_code == 302


def sign_in_through_proxy(client, name, password, forwarded_for, peer="127.0.0.1"):
    token = csrf_of(client, "/console/login")
    return client.post("/console/login", data={"csrf_token": token, "name": name, "password": password},
                       headers={"Accept": "application/json", "X-Forwarded-For": forwarded_for},
                       environ_base={"REMOTE_ADDR": peer})


@pytest.mark.engines
def test_made_up_names_behind_the_proxy_lock_only_the_address_that_sent_them(throttled):
    # Behind the shipped nginx every request comes from loopback; its X-Forwarded-For names the client.
    client = throttled.test_client()
    guesses = [sign_in_through_proxy(client, f"made-up-{n}", "guess", "203.0.113.7").status_code for n in range(5)]
    assert guesses == [401] * 5
    assert sign_in_through_proxy(client, "made-up-5", "guess", "203.0.113.7").status_code == 429
    # A spoofed hop left of the client's own address changes nothing: the proxy appended the real one.
    assert sign_in_through_proxy(client, "alice", "guess", "198.51.100.9, 203.0.113.7").status_code == 429
    admin = throttled.test_client()
    assert sign_in_through_proxy(admin, "alice", "correct horse battery", "198.51.100.2").status_code == 302
    assert admin.get("/console/").status_code == 200
    assert [row[1] for row in audit_rows(throttled, "console_sign_in_locked")] == ['{"address": "203.0.113.7"}']
    assert '{"address": "198.51.100.2"}' in [row[1] for row in audit_rows(throttled, "console_sign_in")]


@pytest.mark.engines
def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(throttled):
    client = throttled.test_client()
    statuses = [sign_in_through_proxy(client, f"name-{n}", "guess", f"198.51.100.{n}", peer="203.0.113.7").status_code
                for n in range(6)]
    assert statuses == [401] * 5 + [429]
    assert [row[1] for row in audit_rows(throttled, "console_sign_in_locked")] == ['{"address": "203.0.113.7"}']


@pytest.mark.engines
def test_a_lockout_ends_and_a_right_password_clears_the_count(throttled):
    client = throttled.test_client()
    for n in range(3):
        sign_in_as(client, "alice", f"guess {n}")
    db = connect(throttled.config["DATABASE"])
    with write_transaction(db):  # the lockout's ten minutes pass
        db.execute("UPDATE sign_in_failures SET last_at = last_at - 601, locked_until = locked_until - 601")
    assert sign_in_as(client, "alice", "guess 4").status_code == 401
    assert sign_in_as(client, "alice", "correct horse battery").status_code == 302
    assert db.execute("SELECT count(*) FROM sign_in_failures").fetchone()[0] == 0
    db.close()


@pytest.mark.engines
def test_wrong_passwords_from_an_address_lock_it(throttled):
    client = throttled.test_client()
    names = ["alice", "bob", "carol", "dave", "erin"]
    assert [sign_in_as(client, name, "guess", "203.0.113.7").status_code for name in names] == [401] * 5
    refused = sign_in_as(client, "frank", "guess", "203.0.113.7")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 590
    assert sign_in_as(client, "alice", "correct horse battery", "198.51.100.2").status_code == 302
    assert [row[1] for row in audit_rows(throttled, "console_sign_in_locked")] == ['{"address": "203.0.113.7"}']


@pytest.mark.engines
def test_guesses_sent_at_once_are_held_to_the_limit(throttled):
    client_for = [throttled.test_client() for _ in range(8)]
    tokens = [csrf_of(c, "/console/login") for c in client_for]
    statuses = []

    def guess(client, token):
        statuses.append(client.post("/console/login", data={"csrf_token": token, "name": "alice", "password": "g"},
                                    headers={"Accept": "application/json"}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(client_for, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 3 + [429] * 5


def test_login_redirect_never_leaves_the_console(app, client):
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        admins.create(db, "alice", "correct horse battery")
    for target in ("https://evil.example/", "//evil.example/console/", "/api/v1/purge"):
        token = csrf_of(client, "/console/login")  # a new session gets a new token
        response = client.post("/console/login?next=" + target,
                               data={"csrf_token": token, "name": "alice", "password": "correct horse battery"})
        assert response.headers["Location"] == "/console/"


@pytest.mark.parametrize("name, password, message", [
    ("alice", "short", "12 to 1024"),
    ("with space", "long enough password", "printable"),
    ("", "long enough password", "printable"),
])
def test_admin_names_and_passwords_are_checked(app, name, password, message):
    db = connect(app.config["DATABASE"])
    with pytest.raises(admins.AdminError, match=message):
        admins.create(db, name, password)


@pytest.mark.engines
def test_admin_create_command(app, config):
    runner = CliRunner()
    env = {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir),
           "PROCTORPY_DATABASE_URL": config["database.url"]}
    made = runner.invoke(cli, ["admin", "create", "alice", "--password-stdin"], input="correct horse battery\n", env=env)
    assert made.exit_code == 0, made.output
    again = runner.invoke(cli, ["admin", "create", "alice", "--password-stdin"], input="correct horse battery\n", env=env)
    assert again.exit_code == 1 and "exists already" in again.output
    weak = runner.invoke(cli, ["admin", "create", "bob", "--password-stdin"], input="weak\n", env=env)
    assert weak.exit_code == 1 and "12 to 1024" in weak.output
    prompted = runner.invoke(cli, ["admin", "create", "carol"], input="another good password\nanother good password\n", env=env)
    assert prompted.exit_code == 0, prompted.output
    listed = runner.invoke(cli, ["admin", "list"], env=env)
    assert "alice" in listed.output and "carol" in listed.output and "never" in listed.output
    assert runner.invoke(cli, ["admin", "delete", "carol"], env=env).exit_code == 0
    assert "carol" not in runner.invoke(cli, ["admin", "list"], env=env).output
    db = connect(app.config["DATABASE"])
    assert admins.authenticate(db, "alice", "correct horse battery") == "alice"
    assert [r[0] for r in db.execute("SELECT action FROM audit_log")] == ["admin_create", "admin_create", "admin_delete"]


def test_pages_need_a_session(client):
    for path in ("/console/", "/console/courses", "/console/policies", "/console/purge", "/console/export",
                 "/console/audit", "/console/audit.csv", "/console/attempts/1", "/console/images/" + "0" * 20):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/console/login"), path


def test_session_ends_after_idle_timeout(app, console):
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        db.execute("UPDATE console_sessions SET last_seen_at = last_seen_at - 31 * 60")
    db.close()
    response = console.get("/console/")
    assert response.status_code == 302 and "idle=1" in response.headers["Location"]
    assert "ended after a while" in console.get(response.headers["Location"]).get_data(as_text=True)
    assert audit_actions(app)[-1] == "console_sign_out"  # ended by time, audited like a sign-out
    assert console.get("/console/").status_code == 302


def test_session_key_is_shared_by_every_worker_and_follows_the_secret(app, console, config):
    cookie = console.get_cookie("proctorpy_console", path="/console")
    other_app = create_app(config)
    other_worker = other_app.test_client()
    other_worker.set_cookie("proctorpy_console", cookie.value, path="/console")
    assert other_worker.get("/console/").status_code == 200
    close_app(other_app)
    rotated = create_app(load_config(environ={}, overrides={**config, "security.secret": "a-new-secret-0123456789"}))
    client = rotated.test_client()
    client.set_cookie("proctorpy_console", cookie.value, path="/console")
    assert client.get("/console/").status_code == 302
    close_app(rotated)


def test_secure_cookie_when_public_url_is_https(tmp_path):
    app = create_app(load_config(environ={}, overrides={"storage.data_dir": str(tmp_path / "d"),
                                                        "security.secret": SECRET,
                                                        "server.public_url": "https://proctor.example.edu"}))
    response = app.test_client().get("/console/sso?token=" + sso_token())
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.engines
def test_logout_needs_csrf_and_ends_the_session(app, console):
    assert console.post("/console/logout").status_code == 403
    assert console.post("/console/logout", data={"csrf_token": csrf_of(console)}).status_code == 302
    assert console.get("/console/").status_code == 302
    assert audit_actions(app)[-1] == "console_sign_out"


def copied_cookie(app, client):
    """Another browser holding a copy of client's session cookie."""
    thief = app.test_client()
    thief.set_cookie("proctorpy_console", client.get_cookie("proctorpy_console", path="/console").value,
                     path="/console")
    return thief


def sign_in_locally(app, client, name="alice", password="correct horse battery"):
    response = client.post("/console/login", data={"csrf_token": csrf_of(client, "/console/login"), "name": name,
                                                   "password": password})
    assert response.status_code == 302, response.data


@pytest.mark.engines
def test_a_copied_cookie_stops_working_after_sign_out(app, console):
    thief = copied_cookie(app, console)
    assert thief.get("/console/").status_code == 200
    console.post("/console/logout", data={"csrf_token": csrf_of(console)})
    assert thief.get("/console/").status_code == 302
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT count(*) FROM console_sessions").fetchone()[0] == 0
    db.close()


@pytest.mark.engines
@pytest.mark.parametrize("command, stdin", [
    (["admin", "delete", "alice"], ""),
    (["admin", "password", "alice", "--password-stdin"], "a brand new password\n"),
])
def test_deleting_an_admin_or_changing_the_password_ends_their_sessions(app, config, client, command, stdin):
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        admins.create(db, "alice", "correct horse battery")
        admins.create(db, "bob", "another good password")
    sign_in_locally(app, client)
    thief = copied_cookie(app, client)
    other = app.test_client()
    sign_in_locally(app, other, "bob", "another good password")
    env = {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir),
           "PROCTORPY_DATABASE_URL": config["database.url"]}
    done = CliRunner().invoke(cli, command, input=stdin, env=env)
    assert done.exit_code == 0 and "1 console session(s) ended" in done.output, done.output
    assert client.get("/console/").status_code == 302 and thief.get("/console/").status_code == 302
    assert other.get("/console/").status_code == 200  # bob's session is his own
    if command[1] == "password":
        assert admins.authenticate(db, "alice", "a brand new password") == "alice"
    assert db.execute("SELECT action, count FROM audit_log WHERE action LIKE 'admin_%' ORDER BY id DESC").fetchone() \
        == ("admin_" + command[1], 1)
    db.close()


def test_each_sign_in_gets_a_new_session_id(app, client):
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        admins.create(db, "alice", "correct horse battery")
    sign_in_locally(app, client)
    planted = client.get_cookie("proctorpy_console", path="/console").value
    sign_in_locally(app, client)
    assert client.get_cookie("proctorpy_console", path="/console").value != planted
    fixed = app.test_client()
    fixed.set_cookie("proctorpy_console", planted, path="/console")
    assert fixed.get("/console/").status_code == 302  # the first sign-in's id was replaced, not reused
    ids = [row[0] for row in db.execute("SELECT id_hash FROM console_sessions")]
    assert len(ids) == 1 and planted not in ids[0]
    db.close()


# --- CSRF and headers ----------------------------------------------------------------------------

@pytest.mark.parametrize("path, form", [
    ("/console/purge", {"course_id": "3"}),
    ("/console/export", {"course_id": "3"}),
    ("/console/policies", {"scope": "course", "scope_id": "3", "days": "5"}),
    ("/console/attempts/1/hold", {"hold": "1"}),
])
def test_forms_without_the_csrf_token_are_refused(app, console, path, form):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 2, first_attempt=1)
    for token in (None, "forged"):
        data = dict(form, **({"csrf_token": token} if token else {}))
        response = console.post(path, data=data)
        assert response.status_code == 403 and "security token" in response.get_data(as_text=True)
    assert len(image_files(app.config["IMAGES"])) == 2
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT count(*) FROM retention_policies").fetchone()[0] == 0
    assert db.execute("SELECT legal_hold FROM attempts").fetchone()[0] == 0


def test_security_headers(app, console):
    response = console.get("/console/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in response.get_data(as_text=True)


def test_frame_ancestors_allow_only_the_moodle_origin(tmp_path):
    app = create_app(load_config(environ={}, overrides={"storage.data_dir": str(tmp_path / "d"),
                                                        "security.secret": SECRET,
                                                        "console.moodle_origin": "https://moodle.example.edu"}))
    response = app.test_client().get("/console/login")
    assert "frame-ancestors 'self' https://moodle.example.edu" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


# --- pages ---------------------------------------------------------------------------------------

@pytest.mark.engines
def test_dashboard_shows_disk_usage_growth_and_queue(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1)
    seed(app.config["DATABASE"], app.config["IMAGES"], 4, 12, 1, 2, first_attempt=10, finished_days_ago=200)
    page = console.get("/console/").get_data(as_text=True)
    assert "Course 3" in page and "Course 4" in page and "Quiz 12" in page
    assert "<svg" in page and page.count('class="bar"') == 30
    assert "Days until full" in page and "Analysis queue" in page and "Oldest data" in page
    assert "1 <small>expired</small>" in page
    assert "Camshots <span class=\"ok\">accepted</span>" in page


# The free-space floor guards the image folder's disk (embedded backend); with a bucket camshots stay accepted.
def test_dashboard_shows_the_disk_guard(app, console):
    app.config["PROCTORPY"]["storage.min_free_bytes"] = 2**62
    page = console.get("/console/").get_data(as_text=True)
    assert "New camshots are refused" in page and '<span class="bad">refused</span>' in page


@pytest.mark.engines
def test_browse_course_quiz_attempt_with_report_and_images(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1)
    courses = console.get("/console/courses").get_data(as_text=True)
    assert '/console/courses/3' in courses
    course = console.get("/console/courses/3").get_data(as_text=True)
    assert '/console/quizzes/11' in course and "Quiz 11" in course
    quiz = console.get("/console/quizzes/11").get_data(as_text=True)
    assert '/console/attempts/1' in quiz and "site default" in quiz
    attempt = console.get("/console/attempts/1").get_data(as_text=True)
    assert "Put on legal hold" in attempt and attempt.count("size=thumb") == 3
    camshot_id = re.search(r"/console/images/([0-9a-f]{20})\?size=thumb", attempt).group(1)
    thumb = console.get(f"/console/images/{camshot_id}?size=thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/png"
    full = console.get(f"/console/images/{camshot_id}")
    assert full.status_code == 200 and full.data.startswith(b"\x89PNG")
    full.close()
    assert console.get("/console/images/nothex").status_code == 400
    assert console.get("/console/courses/99").status_code == 404
    assert console.get("/console/attempts/abc").status_code == 400
    report = console.get("/console/attempts/1/report")
    if "Open the report" in attempt:
        assert report.status_code == 200 and "/console/images/" in report.get_data(as_text=True)
        assert "style-src 'self' 'unsafe-inline'" in report.headers["Content-Security-Policy"]
        assert "report_view" in audit_actions(app)
    else:
        assert report.status_code == 404
    assert {"attempt_view", "image_view"} <= set(audit_actions(app))


@pytest.mark.engines
def test_hold_toggle_is_audited(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1)
    token = csrf_of(console)
    assert console.post("/console/attempts/1/hold", data={"csrf_token": token, "hold": "1"}).status_code == 302
    assert "On legal hold" in console.get("/console/attempts/1").get_data(as_text=True)
    assert console.post("/console/attempts/1/hold", data={"csrf_token": token, "hold": "yes"}).status_code == 400
    assert console.post("/console/attempts/99/hold", data={"csrf_token": token, "hold": "1"}).status_code == 404
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT actor_id, detail FROM audit_log WHERE action = 'legal_hold'").fetchone() == \
        ("moodle:2", "hold set")


@pytest.mark.engines
def test_policy_editor_sets_and_removes_policies(app, console):
    token = csrf_of(console)
    saved = console.post("/console/policies", data={"csrf_token": token, "scope": "quiz", "scope_id": "11", "days": "14"})
    assert saved.status_code == 302
    assert "quiz #11" in console.get("/console/policies").get_data(as_text=True)  # a quiz it holds no attempt of
    for bad in ({"scope": "site", "scope_id": "1", "days": "3"}, {"scope": "quiz", "scope_id": "x", "days": "3"},
                {"scope": "quiz", "scope_id": "1", "days": "0"}, {"scope": "quiz", "scope_id": "1", "days": "99999"},
                {"scope": "quiz", "scope_id": "1"}):
        assert console.post("/console/policies", data={"csrf_token": token, **bad}).status_code == 400, bad
    removed = console.post("/console/policies", data={"csrf_token": token, "action": "delete", "scope": "quiz",
                                                      "scope_id": "11"})
    assert removed.status_code == 302
    assert console.post("/console/policies", data={"csrf_token": token, "action": "delete", "scope": "quiz",
                                                   "scope_id": "11"}).status_code == 404
    db = connect(app.config["DATABASE"])
    assert [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action LIKE 'policy_%'")] == \
        ["policy_set", "policy_delete"]


def test_a_quiz_policy_is_set_by_the_id_in_the_quizs_address(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1, cm_id=30)
    seed(app.config["DATABASE"], app.config["IMAGES"], 4, 30, 1, 1, first_attempt=2, cm_id=45)
    page = console.get("/console/policies?cm_id=30").get_data(as_text=True)
    assert 'name="cm_id"' in page and 'value="30"' in page and '<option value="45">Course 4 › Quiz 30</option>' in page
    token = csrf_of(console)
    saved = console.post("/console/policies", data={"csrf_token": token, "scope": "quiz", "cm_id": "30", "days": "9"})
    assert saved.status_code == 302
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT scope, scope_id, days FROM retention_policies").fetchall() == [("quiz", 11, 9)], \
        "the quiz at view.php?id=30 is quiz 11, not quiz 30"
    listed = console.get("/console/policies").get_data(as_text=True)
    assert "quiz view.php?id=30" in listed and "Quiz 11" in listed
    unknown = console.post("/console/policies", data={"csrf_token": token, "scope": "quiz", "cm_id": "99", "days": "9"})
    assert unknown.status_code == 404 and "view.php?id=99" in unknown.get_data(as_text=True)
    assert console.get("/console/quizzes/11").get_data(as_text=True).count("/console/policies?cm_id=30") == 1


@pytest.mark.engines
def test_purge_form_shows_the_dry_run_before_confirming(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1)
    seed(app.config["DATABASE"], app.config["IMAGES"], 4, 11, 1, 3, first_attempt=10)
    preview = console.get("/console/purge?course_id=3&preview=1").get_data(as_text=True)
    assert '<span id="dry-attempts">2</span> attempts' in preview and 'id="confirm"' in preview
    assert len(image_files(app.config["IMAGES"])) == 9
    empty = console.get("/console/purge?preview=1").get_data(as_text=True)
    assert "selection is empty" in empty and 'id="confirm"' not in empty
    assert "Deleted 2 attempts, 6 camshots" in purge_and_follow(console, {"course_id": "3"})
    assert len(image_files(app.config["IMAGES"])) == 3
    assert console.post("/console/purge", data={"csrf_token": csrf_of(console, "/console/purge")}).status_code == 400
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT actor_type, actor_id, count FROM audit_log WHERE action = 'purge'").fetchone() == \
        ("console", "moodle:2", 6)


@pytest.mark.engines
def test_purge_form_takes_the_quiz_an_admin_sees_and_names_what_it_deletes(app, console):
    """The id in a quiz's Moodle address is its course module id; quiz instance ids overlap with them, so a purge
    "of quiz 30" by that number must reach the quiz at view.php?id=30, and say so by name before deleting."""
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1, cm_id=30)
    seed(app.config["DATABASE"], app.config["IMAGES"], 4, 30, 1, 3, first_attempt=10, cm_id=45)
    form = console.get("/console/purge").get_data(as_text=True)
    assert 'name="cm_id"' in form and 'name="quiz_id"' not in form, "the form asks for the id an admin sees"
    assert '<option value="30">Course 3 › Quiz 11</option>' in form and '<option value="45">Course 4 › Quiz 30</option>' in form
    preview = console.get("/console/purge?cm_id=30&preview=1").get_data(as_text=True)
    assert '<span id="dry-attempts">2</span> attempts' in preview
    reached = re.search(r'<ul class="reached" id="reached-quizzes">(.*?)</ul>', preview, re.S).group(1)
    assert "<strong>Quiz 11</strong> in Course 3" in reached and "view.php?id=30" in reached and "Quiz 30" not in reached
    assert 'type="hidden" name="cm_id" value="30"' in preview
    assert "Deleted 2 attempts, 6 camshots" in purge_and_follow(console, {"cm_id": "30"})
    assert image_files(app.config["IMAGES"], 3) == [] and len(image_files(app.config["IMAGES"], 4)) == 3
    quiz_page = console.get("/console/quizzes/30").get_data(as_text=True)
    assert "view.php?id=45" in quiz_page and "/console/purge?cm_id=45&amp;preview=1" in quiz_page
    exported = console.get("/console/export?cm_id=45&preview=1").get_data(as_text=True)
    assert "<strong>Quiz 30</strong> in Course 4" in exported


@pytest.mark.engines
def test_purge_form_reads_dates_and_the_expired_box(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1, finished_days_ago=200)
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=2, finished_days_ago=1)
    expired = console.get("/console/purge?expired=1&preview=1").get_data(as_text=True)
    assert '<span id="dry-attempts">1</span>' in expired and 'name="expired" value="1"' in expired
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 100 * 86400))
    before = console.get(f"/console/purge?before={day}&preview=1").get_data(as_text=True)
    assert '<span id="dry-attempts">1</span>' in before
    assert "YYYY-MM-DD" in console.get("/console/purge?before=yesterday&preview=1").get_data(as_text=True)


@pytest.mark.engines
def test_a_purge_runs_on_after_the_confirm_and_its_page_says_how_far_it_has_got(app, console):
    """The confirm answers at once with the run's page; the run goes on in the background in batches, and its
    progress (done beside planned) is read as JSON while it runs; the audit row is written when it ends."""
    app.config["RETENTION"] = dataclasses.replace(app.config["RETENTION"], batch_size=2)  # several batches
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 3, 4, first_attempt=1)
    started = console.post("/console/purge", data={"csrf_token": csrf_of(console, "/console/purge"), "course_id": "3"})
    run = started.headers["Location"]
    seen = []

    def done():
        progress = console.get(run + "/progress").get_json()
        seen.append(progress)
        return progress["state"] == "done"
    wait_for(done, 30, "the purge to finish")
    first, last = seen[0], seen[-1]
    assert (first["planned_attempts"], first["planned_camshots"]) == (3, 12)
    assert (last["attempts"], last["camshots"], last["held"], last["stalled"]) == (3, 12, 0, False)
    assert all(p["camshots"] <= p["planned_camshots"] for p in seen)
    page = console.get(run).get_data(as_text=True)
    assert "Purged: course 3" in page and "Deleted 3 attempts, 12 camshots" in page
    assert audit_actions(app).count("purge") == 1
    assert image_files(app.config["IMAGES"]) == []


@pytest.mark.engines
def test_a_running_purge_page_shows_its_counts_and_follows_them(app, console):
    """The page of a run still going (here one whose process stopped) shows the counts and the script that polls."""
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1)
    db = connect(app.config["DATABASE"])
    try:
        run_id = purge.start(db, {"course_id": 3}, {"actor_type": "console", "actor_id": "moodle:2"}, NOW, 365,
                             "another-host:1:gone")
        with write_transaction(db):
            db.execute("UPDATE purge_runs SET lease_until = ? WHERE id = ?", [time.time() - 1, run_id])
    finally:
        db.close()
    page = console.get(f"/console/purge/runs/{run_id}").get_data(as_text=True)
    assert f'data-progress-url="/console/purge/runs/{run_id}/progress"' in page and "progress.js" in page
    assert '<progress id="purge-bar" max="6" value="0">' in page
    assert '<span data-field="planned_attempts">2</span>' in page and 'id="stalled"' in page
    assert console.get(f"/console/purge/runs/{run_id}/progress").get_json()["stalled"] is True
    assert console.get("/console/purge/runs/999999/progress").status_code == 404
    assert console.get("/console/purge/runs/0").status_code == 400
    assert console.get("/console/purge/runs/1e9").status_code == 400
    assert console.get("/console/purge/runs/99999999999999999999").status_code == 400


@pytest.mark.engines
def test_an_export_writes_down_how_much_it_has_sent_for_the_admin_who_started_it(app, client):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1)
    sign_in(client)
    preview = client.get("/console/export?quiz_id=11&preview=1").get_data(as_text=True)
    key = re.search(r'name="run" value="([0-9a-f]{32})"', preview).group(1)
    assert f'data-progress-url="/console/export/runs/{key}/progress"' in preview
    progress_url = f"/console/export/runs/{key}/progress"
    assert client.get(progress_url).get_json() == {"state": "waiting"}, "nothing is sent before the download starts"
    response = client.post("/console/export", data={"csrf_token": csrf_of(client, "/console/export"), "quiz_id": "11",
                                                    "run": key})
    body = response.data
    progress = client.get(progress_url).get_json()
    assert progress["state"] == "done" and progress["sent"] == len(body)
    assert (progress["attempts"], progress["camshots"]) == (2, 6) and progress["bytes"] > 0
    # Another admin does not read it; a key the page did not make is refused.
    client.post("/console/logout", data={"csrf_token": csrf_of(client)})
    client.get("/console/sso?token=" + sso_token(uid=3, name="Other Admin"))
    assert client.get(progress_url).get_json() == {"state": "waiting"}
    assert client.get("/console/export/runs/not-a-key/progress").status_code == 400
    refused = client.post("/console/export", data={"csrf_token": csrf_of(client, "/console/export"), "quiz_id": "11",
                                                   "run": "../../etc"})
    assert refused.status_code == 400


@pytest.mark.engines
def test_export_form_shows_the_size_then_streams_the_zip(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 2, 3, first_attempt=1)
    preview = console.get("/console/export?quiz_id=11&preview=1").get_data(as_text=True)
    assert "2 attempts, 6 camshots" in preview and 'id="download"' in preview
    response = console.post("/console/export", data={"csrf_token": csrf_of(console, "/console/export"),
                                                     "quiz_id": "11"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert len([n for n in archive.namelist() if n.endswith(".png")]) == 6
    assert "export" in audit_actions(app)


@pytest.mark.engines
def test_audit_page_filters_and_exports_csv(app, console):
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 1, 1, first_attempt=1)
    token = csrf_of(console)
    console.post("/console/attempts/1/hold", data={"csrf_token": token, "hold": "1"})
    page = console.get("/console/audit?action=legal_hold").get_data(as_text=True)
    assert "hold set" in page and "console_sign_in" not in page.split("<tbody>")[1]
    assert "attempt_id 1" in page
    by_actor = console.get("/console/audit?actor=Admin").get_data(as_text=True)
    assert "console_sign_in" in by_actor
    nobody = console.get("/console/audit?actor=nobody%25").get_data(as_text=True)
    assert "Nothing recorded for these filters" in nobody
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert "hold set" in console.get(f"/console/audit?from={today}&to={today}").get_data(as_text=True)
    assert console.get("/console/audit?from=13/01/2026").status_code == 400
    exported = console.get("/console/audit.csv?action=legal_hold")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["legal_hold"] and rows[0]["actor_name"] == "Admin User"
    assert audit_actions(app)[-1] == "audit_export"


def test_console_refusals_speak_json_to_scripts(app, console):
    response = console.get("/console/attempts/99", headers={"Accept": "application/json"})
    assert response.status_code == 404 and set(response.json) == {"error", "message"}


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x.example\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_audit_csv_never_hands_a_spreadsheet_a_formula(app, client, text):
    response = client.get("/console/sso?token=" + sso_token(name=text))
    assert response.status_code == 200
    db = connect(app.config["DATABASE"])
    with write_transaction(db):
        audit.record(db, "purge", {"actor_type": "moodle", "actor_id": text, "actor_name": "Teacher"}, detail=text)
    exported = client.get("/console/audit.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["actor_name"] for r in rows if r["action"] == "console_sign_in"} == {"'" + text}
    purge = next(r for r in rows if r["action"] == "purge")
    assert purge["actor_id"] == purge["detail"] == "'" + text
    assert purge["count"] == ""


def camshot_seconds(client, count, start):
    """Median seconds of count camshot uploads, one after another."""
    took = []
    for n in range(count):
        began = time.monotonic()
        client.post_camshot(1, 7, int(time.time() * 1000), png_bytes(320, 240, (n % 256, 80, 40)))
        took.append(time.monotonic() - began)
    return statistics.median(took)


@pytest.mark.slow
def test_password_guessing_does_not_hold_up_camshots(tmp_path):
    # Limits out of reach, so that every guess runs scrypt: what is measured is that hashing no
    # longer holds the write lock, not that the throttle ends the guessing.
    sidecar = LiveSidecar(tmp_path / "live", env={"PROCTORPY_CONSOLE_SIGN_IN_FAILURES_PER_ACCOUNT": "100000",
                                                  "PROCTORPY_CONSOLE_SIGN_IN_FAILURES_PER_ADDRESS": "100000"}).start()
    stopping = threading.Event()
    answers = []

    def guess(worker):
        session = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          session.get(sidecar.url + "/console/login", timeout=30).text).group(1)
        n = 0
        while not stopping.is_set():
            n += 1
            answers.append(session.post(sidecar.url + "/console/login", timeout=60, allow_redirects=False, data={
                "csrf_token": token, "name": f"admin{worker}", "password": f"guess {n}"}).status_code)

    guessers = [threading.Thread(target=guess, args=(worker,)) for worker in range(4)]
    try:
        sidecar.client.put_attempt(1, **attempt_fields(1))
        camshot_seconds(sidecar.client, 3, 0)  # both workers warm
        before = camshot_seconds(sidecar.client, 15, 100)
        for thread in guessers:
            thread.start()
        deadline = time.time() + 30
        while len(answers) < 8 and time.time() < deadline:  # the guessing is in full swing
            time.sleep(0.05)
        during = camshot_seconds(sidecar.client, 15, 200)
        guessed = len(answers)
    finally:
        stopping.set()
        for thread in guessers:
            if thread.is_alive():
                thread.join()
        sidecar.stop()
    print(f"\ncamshot median {before * 1000:.0f} ms before, {during * 1000:.0f} ms while {guessed} guesses ran:"
          f" ratio {during / before:.2f}")
    assert set(answers) == {401} and guessed >= 8
    assert during / before < 10  # scrypt still takes CPU; holding the write lock, it made camshots wait hundreds of times longer
