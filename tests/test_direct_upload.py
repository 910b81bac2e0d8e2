"""Direct upload: camshots and events posted by the browser with an upload token, and the
plugin's Test connection of the public path.

Every refusal is a precise 4xx and leaves nothing behind: no file, no row, no job, no event.
"""
import json
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import SECRET, LiveSidecar, convert_originals, face_bytes, free_port, png_bytes, stored_keys
from front_server import FrontServer
from sidecar.client import multipart
from sidecar.db import connect
from sidecar.views.direct import same_host
from sidecar.signing import SignatureError, make_token, read_token

ATTEMPT = 1
USER = 7
CLIENT_CLI = (Path(__file__).resolve().parents[1] / "moodle_plugin" / "quizaccess_proctorpy" / "tests" / "fixtures"
              / "client_cli.php")


def upload_token(attempt_id=ATTEMPT, user_id=USER, exp=None, secret=SECRET):
    return make_token(secret, {"a": attempt_id, "u": user_id, "exp": exp or int(time.time()) + 3600})


def bearer(token):
    return {"Authorization": "Bearer " + token}


def camshot_body(attempt_id=ATTEMPT, user_id=USER, client_shot_id=None, image=None):
    return multipart(
        {"attempt_id": attempt_id, "user_id": user_id, "taken_at": int(time.time() * 1000),
         "client_shot_id": client_shot_id or secrets.token_hex(8), "kind": "attempt"},
        {"image": ("shot.jpg", face_bytes("obama/obama-480p.jpg", width=320, fmt="JPEG") if image is None else image,
                   "image/jpeg")},
    )


def post_camshot(client, headers, **fields):
    body, ctype = camshot_body(**fields)
    return client.post("/api/v1/direct/camshots", data=body, content_type=ctype, headers=headers)


def event_body(attempt_id=ATTEMPT, user_id=USER, client_event_id=None, event_type="tab_hidden"):
    return {"attempt_id": attempt_id, "user_id": user_id, "type": event_type, "at": int(time.time() * 1000),
            "client_event_id": client_event_id or secrets.token_hex(8)}


def post_event(client, headers, **fields):
    return client.post("/api/v1/direct/events", data=json.dumps(event_body(**fields)),
                       content_type="application/json", headers=headers)


def stored(app):
    """Camshot rows, analysis jobs, events and images (PNG files, or originals kept until the worker writes them):
    what a refusal must not add to."""
    db = connect(app.config["DATABASE"])
    try:
        counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("camshots", "jobs", "events", "camshot_originals")}
    finally:
        db.close()
    counts["images"] = len(stored_keys(app.config["IMAGES"])) + counts.pop("camshot_originals")
    return counts


NOTHING = {"camshots": 0, "jobs": 0, "events": 0, "images": 0}


@pytest.fixture
def attempt(api):
    assert api.put_attempt(ATTEMPT, user_id=USER).status_code == 201
    assert api.put_attempt(2, user_id=8).status_code == 201


@pytest.mark.engines
def test_camshot_and_event_are_stored_with_a_token(app, client, attempt):
    token = upload_token()
    shot = post_camshot(client, bearer(token), client_shot_id="shot-1")
    assert shot.status_code == 201, shot.json
    assert shot.json["attempt_id"] == ATTEMPT and shot.json["width"] == 320
    again = post_camshot(client, bearer(token), client_shot_id="shot-1")
    assert again.status_code == 200 and again.json["id"] == shot.json["id"]
    event = post_event(client, bearer(token), client_event_id="ev-1", event_type="focus_lost")
    assert event.status_code == 201, event.json
    assert post_event(client, bearer(token), client_event_id="ev-1", event_type="focus_lost").status_code == 200
    assert stored(app) == {"camshots": 1, "jobs": 1, "events": 1, "images": 1}


def test_same_origin_browser_request_is_accepted(client, attempt):
    headers = {**bearer(upload_token()), "Origin": "https://moodle.example.edu", "Host": "moodle.example.edu",
               "Sec-Fetch-Site": "same-origin"}
    assert post_camshot(client, headers).status_code == 201


def test_signature_headers_are_not_needed_nor_enough(client, api, attempt):
    # The direct endpoints never run the signed-request hook: a signed request without a token is refused.
    body, ctype = camshot_body()
    signed = api.open("POST", "/api/v1/direct/camshots", body, ctype)
    assert signed.status_code == 401 and signed.json["error"] == "missing_token"


# The Authorization header the route reads itself; what follows Bearer is read_token's (below), one case here.
@pytest.mark.parametrize("authorization, status, code", [
    (None, 401, "missing_token"),
    ("", 401, "missing_token"),
    ("Basic dXNlcjpwYXNz", 401, "bad_authorization"),
    ("Bearer", 401, "bad_authorization"),
    ("Bearer ", 401, "bad_authorization"),
    ("Bearer " + "x" * 2000, 401, "bad_authorization"),
    ("Bearer not-a-token", 403, "bad_token"),
])
@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_missing_or_malformed_authorization_is_refused(app, client, attempt, send, authorization, status, code):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = send(client, headers)
    assert response.status_code == status, response.json
    assert response.json["error"] == code and response.json["message"]
    assert stored(app) == NOTHING


def forged_tokens():
    genuine = upload_token()
    version, payload, mac = genuine.split(".")
    other_payload = make_token(SECRET, {"a": 2, "u": 8, "exp": int(time.time()) + 3600}).split(".")[1]
    return {
        "other secret": upload_token(secret=SECRET + "-other"),
        "payload swapped": f"{version}.{other_payload}.{mac}",
        "mac flipped": f"{version}.{payload}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        "mac cut": f"{version}.{payload}.{mac[:32]}",
        "payload not json": make_token_over_bytes(b"not json"),
        "no expiry": make_token(SECRET, {"a": ATTEMPT, "u": USER}),
        "no attempt": make_token(SECRET, {"u": USER, "exp": int(time.time()) + 3600}),
        "attempt not an id": make_token(SECRET, {"a": "1", "u": USER, "exp": int(time.time()) + 3600}),
        "user not an id": make_token(SECRET, {"a": ATTEMPT, "u": True, "exp": int(time.time()) + 3600}),
        "sign-on token": make_token(SECRET, {"p": "sso", "uid": 2, "name": "Admin", "exp": int(time.time()) + 60,
                                             "n": "9f86d081884c7d65"}),
    }


def make_token_over_bytes(payload):
    """A correctly signed token whose payload is arbitrary bytes."""
    import base64
    import hashlib
    import hmac

    body = "v1." + base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return body + "." + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()


# Forgeries read_token finds; the others are genuine tokens that are not upload tokens, which the route refuses.
NOT_GENUINE = ["other secret", "payload swapped", "mac flipped", "mac cut", "payload not json", "no expiry"]


@pytest.mark.parametrize("token", ["not-a-token", "v1.e30.00", "v2.eyJhIjoxfQ.00", ""])
def test_malformed_tokens_are_not_read(token):
    with pytest.raises(SignatureError) as refused:
        read_token(SECRET, token, int(time.time()))
    assert refused.value.code == "bad_token"


@pytest.mark.parametrize("name", NOT_GENUINE)
def test_forged_tokens_are_not_read(name):
    with pytest.raises(SignatureError) as refused:
        read_token(SECRET, forged_tokens()[name], int(time.time()))
    assert refused.value.code == "bad_token" and refused.value.message


def test_a_genuine_token_is_read_until_it_expires():
    now = int(time.time())
    assert read_token(SECRET, upload_token(exp=now), now) == {"a": ATTEMPT, "u": USER, "exp": now}
    with pytest.raises(SignatureError) as refused:
        read_token(SECRET, upload_token(exp=now - 1), now)
    assert refused.value.code == "token_expired"


@pytest.mark.parametrize("name", [name for name in forged_tokens() if name not in NOT_GENUINE] + ["mac flipped"])
@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_forged_token_is_refused(app, client, attempt, send, name):
    response = send(client, bearer(forged_tokens()[name]))
    assert response.status_code == 403, response.json
    assert response.json["error"] == "bad_token", response.json
    assert stored(app) == NOTHING


@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_expired_token_is_refused(app, client, attempt, send):
    response = send(client, bearer(upload_token(exp=int(time.time()) - 1)))
    assert response.status_code == 403
    assert response.json["error"] == "token_expired"
    assert "reload" in response.json["message"]
    assert stored(app) == NOTHING


@pytest.mark.parametrize("fields, what", [
    ({"attempt_id": 2, "user_id": 8}, "another attempt and its own user"),
    ({"attempt_id": 2, "user_id": USER}, "another attempt"),
    ({"attempt_id": ATTEMPT, "user_id": 8}, "another user"),
])
@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_token_for_another_attempt_or_user_is_refused(app, client, attempt, send, fields, what):
    response = send(client, bearer(upload_token()), **fields)
    assert response.status_code == 403, what
    assert response.json["error"] == "token_mismatch"
    assert f"attempt {ATTEMPT} of user {USER}" in response.json["message"]
    assert stored(app) == NOTHING


@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_token_naming_someone_elses_attempt_is_refused(app, client, attempt, send):
    # A genuine token whose user is not the attempt's owner (attempt 2 belongs to user 8).
    response = send(client, bearer(upload_token(attempt_id=2, user_id=USER)), attempt_id=2, user_id=USER)
    assert response.status_code == 409 and response.json["error"] == "attempt_user_mismatch"
    assert stored(app) == NOTHING


@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_unknown_attempt_is_refused(app, client, attempt, send):
    response = send(client, bearer(upload_token(attempt_id=99)), attempt_id=99)
    assert response.status_code == 409
    assert response.json["error"] == "unknown_attempt"
    assert stored(app) == NOTHING


@pytest.mark.engines
@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_finished_attempt_is_refused(app, client, api, attempt, send):
    assert api.json("POST", f"/api/v1/attempts/{ATTEMPT}/finish", {"finished_at": int(time.time())}).status_code == 200
    response = send(client, bearer(upload_token()))
    assert response.status_code == 409
    assert response.json["error"] == "attempt_finished"
    assert stored(app) == NOTHING


OTHER_ORIGINS = [
    ("https://evil.example", "moodle.example.edu", "another origin"),
    ("https://moodle.example.edu:8443", "moodle.example.edu:443", "another port"),
    ("null", "moodle.example.edu", "an opaque origin"),
    ("https://moodle.example.edu.evil.example", "moodle.example.edu", "a look-alike host"),
    ("ftp://moodle.example.edu", "moodle.example.edu", "another scheme"),
    ("http://[", "moodle.example.edu", "an origin that is no URL"),
]
PROXIED_HOSTS = [
    ("https://moodle.example.edu", "moodle.example.edu"),
    ("https://moodle.example.edu", "moodle.example.edu:443"),
    ("https://Moodle.Example.EDU", "moodle.example.edu"),
    ("http://127.0.0.1:8080", "127.0.0.1:8080"),
    ("http://[::1]:8080", "[::1]:8080"),
]


@pytest.mark.parametrize("origin, host, what", OTHER_ORIGINS)
def test_an_origin_of_another_host_is_not_the_same_host(origin, host, what):
    assert same_host(origin, host) is False, what


@pytest.mark.parametrize("origin, host", PROXIED_HOSTS)
def test_the_origin_of_the_proxied_host_is_the_same_host(origin, host):
    assert same_host(origin, host) is True


# What the browser says of the page (Sec-Fetch-Site) the route reads itself; the Origin through same_host (above).
@pytest.mark.parametrize("headers, what", [
    ({"Sec-Fetch-Site": "cross-site"}, "a page on another site"),
    ({"Sec-Fetch-Site": "same-site"}, "a page on a sibling host"),
    ({"Sec-Fetch-Site": "none"}, "no page at all"),
    ({"Origin": "https://evil.example", "Host": "moodle.example.edu"}, "another origin"),
])
@pytest.mark.parametrize("send", [post_camshot, post_event], ids=["camshot", "event"])
def test_cross_site_request_is_refused(app, client, attempt, send, headers, what):
    response = send(client, {**bearer(upload_token()), **headers})
    assert response.status_code == 403, what
    assert response.json["error"] == "cross_site"
    assert stored(app) == NOTHING


@pytest.mark.parametrize("origin, host", [PROXIED_HOSTS[1], PROXIED_HOSTS[4]])
def test_origin_of_the_proxied_host_is_accepted(client, attempt, origin, host):
    response = post_event(client, {**bearer(upload_token()), "Origin": origin, "Host": host})
    assert response.status_code == 201, response.json


@pytest.fixture
def slow_rate(config):
    config["capture.max_shots_per_minute"] = 3
    config["capture.max_events_per_minute"] = 2
    return config


@pytest.mark.engines
def test_shots_over_the_rate_are_refused_then_allowed_again(app, client, slow_rate, attempt):
    token = upload_token()
    for n in range(3):
        assert post_camshot(client, bearer(token), client_shot_id=f"s{n}").status_code == 201
    over = post_camshot(client, bearer(token), client_shot_id="s3")
    assert over.status_code == 429
    assert over.json["error"] == "rate_limited" and "3 camshots per minute" in over.json["message"]
    # The next camshot is due 20 s after the first; a busy machine's slower uploads bring it nearer.
    wait = over.headers["Retry-After"]
    assert 1 <= int(wait) <= 20 and f"try again in {wait} s" in over.json["message"]
    assert stored(app)["camshots"] == 3 and stored(app)["images"] == 3
    # A retry of a shot already stored is answered, not counted.
    assert post_camshot(client, bearer(token), client_shot_id="s0").status_code == 200
    # Another attempt has its own allowance.
    assert post_camshot(client, bearer(upload_token(2, 8)), attempt_id=2, user_id=8).status_code == 201
    # A minute refills the bucket: move its clock back instead of waiting.
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE upload_allowances SET updated_at = updated_at - 20 WHERE attempt_id = ?", [ATTEMPT])
    db.conn.commit()
    db.close()
    assert post_camshot(client, bearer(token), client_shot_id="s3").status_code == 201
    assert post_camshot(client, bearer(token), client_shot_id="s4").status_code == 429
    assert stored(app)["camshots"] == 5


@pytest.mark.engines
def test_events_over_the_rate_are_refused(app, client, slow_rate, attempt):
    token = upload_token()
    assert post_event(client, bearer(token), client_event_id="e0").status_code == 201
    assert post_event(client, bearer(token), client_event_id="e1").status_code == 201
    over = post_event(client, bearer(token), client_event_id="e2")
    assert over.status_code == 429 and over.json["error"] == "rate_limited"
    assert post_event(client, bearer(token), client_event_id="e1").status_code == 200
    assert stored(app)["events"] == 2


# upload_fields, shared with the signed route, refuses each field (test_capture_api); here, its wiring.
@pytest.mark.parametrize("mutate, status, code", [
    (lambda f: f.pop("client_shot_id"), 400, "missing_field"),
    # An identity photo posted here could become the attempt's reference mid-exam.
    (lambda f: f.update(kind="identity"), 400, "identity_outside_check"),
])
def test_malformed_camshot_is_refused(app, client, attempt, mutate, status, code):
    fields = {"attempt_id": ATTEMPT, "user_id": USER, "taken_at": int(time.time() * 1000),
              "client_shot_id": "c1", "kind": "attempt"}
    mutate(fields)
    body, ctype = multipart(fields, {"image": ("shot.png", png_bytes(), "image/png")})
    response = client.post("/api/v1/direct/camshots", data=body, content_type=ctype, headers=bearer(upload_token()))
    assert response.status_code == status and response.json["error"] == code
    assert stored(app) == NOTHING


@pytest.mark.parametrize("image, status, code", [
    (b"", 415, "empty_image"),
    (b"GIF89a not an image we take", 415, "not_an_image"),
    (face_bytes("obama/obama-480p.jpg", width=320, fmt="JPEG")[:3000], 415, "corrupt_image"),
])
def test_bad_image_is_refused_without_trace(app, client, attempt, image, status, code):
    response = post_camshot(client, bearer(upload_token()), image=image)
    assert response.status_code == status, response.json
    assert response.json["error"] == code
    assert stored(app) == NOTHING


def test_missing_image_and_oversized_body_are_refused(app, client, config, attempt):
    body, ctype = multipart({"attempt_id": ATTEMPT, "user_id": USER, "taken_at": 1, "client_shot_id": "c"}, {})
    response = client.post("/api/v1/direct/camshots", data=body, content_type=ctype, headers=bearer(upload_token()))
    assert response.status_code == 400 and response.json["error"] == "missing_field"
    big = png_bytes() + b"\0" * config["storage.max_upload_bytes"]
    response = post_camshot(client, bearer(upload_token()), image=big)
    assert response.status_code == 413 and response.json["error"] == "too_large"
    assert stored(app) == NOTHING


# The body the route reads itself, and event_fields' refusals (test_capture_api) through the route.
@pytest.mark.parametrize("body, content_type, code", [
    (b"not json", "application/json", "not_json"),
    (b"[1, 2]", "application/json", "not_json"),
    (json.dumps({"attempt_id": ATTEMPT}).encode(), "application/json", "missing_field"),
    (json.dumps(event_body(event_type="screenshot")).encode(), "application/json", "invalid_field"),
    (json.dumps(event_body()).encode(), "text/plain", "not_json"),
])
def test_malformed_event_is_refused(app, client, attempt, body, content_type, code):
    response = client.post("/api/v1/direct/events", data=body, content_type=content_type,
                           headers=bearer(upload_token()))
    assert response.status_code == 400 and response.json["error"] == code
    assert stored(app) == NOTHING


def test_only_post_is_served(client, attempt):
    response = client.get("/api/v1/direct/camshots", headers=bearer(upload_token()))
    assert response.status_code == 405 and response.json["error"] == "method_not_allowed"


@pytest.mark.slow
def test_rate_is_shared_by_gunicorn_workers(tmp_path):
    # Two worker processes, many concurrent uploads: the bucket still lets through exactly its size.
    sidecar = LiveSidecar(tmp_path / "live", env={"PROCTORPY_CAPTURE_MAX_SHOTS_PER_MINUTE": "5",
                                                  "PROCTORPY_SERVER_THREADS": "4"}).start()
    try:
        # The first worker may answer before gunicorn forks the second: it sleeps up to 0.1 s between forks.
        deadline = time.time() + 10
        while len(sidecar.gunicorn_worker_pids()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(sidecar.gunicorn_worker_pids()) == 2
        sidecar.client.put_attempt(ATTEMPT, user_id=USER, user_fullname="Ada", course_id=3, quiz_id=11, cm_id=42,
                                   started_at=int(time.time()))
        image = face_bytes("obama/obama-480p.jpg", width=320, fmt="JPEG")
        token = upload_token()
        statuses = []

        def send():
            body, ctype = camshot_body(image=image)
            request = urllib.request.Request(sidecar.url + "/api/v1/direct/camshots", data=body, method="POST",
                                             headers={**bearer(token), "Content-Type": ctype})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append((error.code, json.loads(error.read())["error"]))

        threads = [threading.Thread(target=send) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses.count(201) == 5, statuses
        assert statuses.count((429, "rate_limited")) == 11, statuses
        shots = sidecar.client.request("GET", f"/api/v1/attempts/{ATTEMPT}")[1]["shots"]
        assert len(shots) == 5
        convert_originals(sidecar.database, sidecar.images)  # what the analysis worker, not running here, does
        assert len(list((tmp_path / "live" / "images").rglob("*.png"))) == 5
    finally:
        sidecar.stop()


def check_public_path(public_url):
    """The plugin's Test connection of the public path, run by PHP through its curl transport."""
    result = subprocess.run(["php", str(CLIENT_CLI), public_url, "-", "checkdirect"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("mode, problem", [
    ("up", "ok"),
    ("healthz_only", "noapi"),
    ("not_found", "notsidecar"),
    ("bad_gateway", "notsidecar"),
])
def test_connection_check_of_the_public_path(live_sidecar, mode, problem):
    front = FrontServer(live_sidecar.url)
    try:
        front.mode = mode
        result = check_public_path(front.public_url)
    finally:
        front.close()
    assert result["problem"] == problem, result
    assert result["details"]["url"] == front.public_url
    if problem == "ok":
        assert result["details"]["api"] == "v1"
        # It asked as a browser would, through the public path: health, then an upload without a token.
        assert [(path, status) for path, status, _ in front.direct_requests] == [
            ("/healthz", 200), ("/api/v1/direct/events", 401)]
    else:
        assert result["details"]["status"] in (404, 502)


def test_connection_check_names_an_unreachable_public_path():
    result = check_public_path(f"http://127.0.0.1:{free_port()}/proctorpy")
    assert result["problem"] == "unreachable" and result["details"]["message"]
