"""The security walk: every route of the built app refuses callers who have not proved who they are.

The walk reads the URL map, so a route added tomorrow is walked too: if it answers an
unsigned, unauthenticated caller and is not in PUBLIC_ENDPOINTS (each with its reason),
the walk fails.
"""
import time

import pytest

from conftest import SECRET
from sidecar import create_app
from sidecar.signing import make_token, signed_headers

# Endpoints anyone may reach, and why that is safe.
PUBLIC_ENDPOINTS = {
    "healthz": "liveness and load figures for monitors; no personal data",
    "console.login": "the console's sign-in form; everything behind it needs the session",
    "console.static": "the console's stylesheet, shipped with the package",
    "static": "files shipped in the package's static folder; no data",
}
# A caller from elsewhere: loopback callers may read /metrics unsigned.
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}
# Plausible values for URL parts, so the request reaches the route and not a 404 of the map.
SAMPLE_ARGUMENTS = {"attempt_id": "1", "user_id": "7", "quiz_id": "11", "course_id": "3",
                    "camshot_id": "0123456789abcdef0123", "filename": "console.css", "run_id": "1",
                    "key": "0123456789abcdef0123456789abcdef"}
CONSOLE_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def routes(app):
    """(endpoint, method, path) of every route in the URL map, with sample arguments."""
    found = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", SAMPLE_ARGUMENTS[argument])
            path = path.replace(f"<path:{argument}>", SAMPLE_ARGUMENTS[argument])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


def refused(response):
    """An answer that gives nothing away: 401/403, or a redirect to the console's sign-in."""
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and "/console/login" in response.headers.get("Location", "")


def open_routes(app, headers=None):
    """Routes outside PUBLIC_ENDPOINTS that answer a caller from elsewhere without refusing."""
    client = app.test_client()
    opened = []
    for endpoint, method, path in routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        body = b'{"attempt_id": 1, "user_id": 7}'
        response = client.open(path, method=method, data=body, content_type="application/json",
                               headers=headers(method, path, body) if headers else {}, environ_base=REMOTE)
        response.close()
        if not refused(response):
            opened.append((endpoint, method, path, response.status_code))
    return opened


def test_every_route_but_the_public_ones_refuses_an_unsigned_caller(app):
    assert open_routes(app) == []


def test_every_route_refuses_a_request_signed_with_another_secret(app):
    def wrong_secret(method, path, body):
        return signed_headers("another-secret-0123456789", method, path, body)

    assert open_routes(app, wrong_secret) == []


def test_every_route_refuses_a_stale_signature(app):
    def replayed_from_an_hour_ago(method, path, body):
        return signed_headers(SECRET, method, path, body, timestamp=int(time.time()) - 3600)

    assert open_routes(app, replayed_from_an_hour_ago) == []


def test_the_walk_finds_an_open_route_someone_adds(config):
    app = create_app(config)
    app.add_url_rule("/api/v1/debug/attempts", "debug_attempts", lambda: {"attempts": []})
    app.add_url_rule("/console-old/export", "old_export", lambda: "zip", methods=["POST"])
    assert sorted(o[0] for o in open_routes(app)) == ["debug_attempts", "old_export"]


def test_the_allow_list_holds_only_routes_that_exist(app):
    """A public entry left behind by a removed route would let a new route of that name through."""
    assert set(PUBLIC_ENDPOINTS) <= {rule.endpoint for rule in app.url_map.iter_rules()}


def test_public_endpoints_answer_without_error(app):
    client = app.test_client()
    assert client.get("/healthz", environ_base=REMOTE).status_code == 200
    assert client.get("/console/login", environ_base=REMOTE).status_code == 200
    with client.get("/console/static/console.css", environ_base=REMOTE) as response:
        assert response.status_code == 200


def signed_in(client):
    with client.session_transaction() as session:
        session["admin"] = {"id": "local:1", "name": "Admin"}
        session["csrf"] = "csrf-token-for-the-walk"
        session["seen"] = time.time()
    return client


@pytest.mark.parametrize("sign_in", [False, True], ids=["signed-out", "signed-in"])
def test_console_pages_send_the_security_headers(app, sign_in):
    client = app.test_client()
    if sign_in:
        signed_in(client)
    walked = 0
    for endpoint, method, path in routes(app):
        if not endpoint.startswith("console.") or method != "GET":
            continue
        response = client.get(path, environ_base=REMOTE)
        response.close()
        walked += 1
        for header in CONSOLE_HEADERS:
            assert header in response.headers, f"{path} ({response.status_code}) lacks {header}"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, f"{path}: {policy}"
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin", "strict-origin")
    assert walked >= 10


def test_console_frames_only_in_the_moodle_origin(tmp_path):
    from sidecar.config import load_config

    app = create_app(load_config(environ={}, overrides={
        "storage.data_dir": str(tmp_path / "data"), "security.secret": SECRET,
        "console.moodle_origin": "https://moodle.example.edu"}))
    policy = app.test_client().get("/console/login").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://moodle.example.edu" in policy


# Header bytes beyond ASCII reach the app as Latin-1 text: "²" is a digit to str.isdigit, "é" is
# neither hex nor base64; compare_digest raises on both, int() on the first.
NON_ASCII = ["²³", "é" * 64, "\xff"]


def signed_ping(**replace):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping")
    headers.update(replace)
    return headers


def upload_token():
    return make_token(SECRET, {"a": 1, "u": 7, "exp": int(time.time()) + 600})


# (what is malformed, method, path, headers(value), form(value)) of every header or cookie the sidecar reads.
MALFORMED = {
    "timestamp": ("GET", "/api/v1/ping", lambda v: signed_ping(**{"X-Proctorpy-Timestamp": v}), None),
    "nonce": ("GET", "/api/v1/ping", lambda v: signed_ping(**{"X-Proctorpy-Nonce": v * 32}), None),
    "signature": ("GET", "/api/v1/ping", lambda v: signed_ping(**{"X-Proctorpy-Signature": v}), None),
    "signature tail": ("GET", "/api/v1/ping",
                       lambda v: signed_ping(**{"X-Proctorpy-Signature": signed_ping()["X-Proctorpy-Signature"][:-1] + v}),
                       None),
    "bearer token": ("POST", "/api/v1/direct/events", lambda v: {"Authorization": "Bearer " + v}, None),
    "bearer token mac": ("POST", "/api/v1/direct/events",
                         lambda v: {"Authorization": "Bearer " + upload_token()[:-1] + v}, None),
    "authorization scheme": ("POST", "/api/v1/direct/events", lambda v: {"Authorization": v + " token"}, None),
    "origin": ("POST", "/api/v1/direct/events",
               lambda v: {"Authorization": "Bearer " + upload_token(), "Origin": "http://[" + v}, None),
    "host": ("POST", "/api/v1/direct/events",
             lambda v: {"Authorization": "Bearer " + upload_token(), "Origin": "http://a", "Host": "[" + v}, None),
    "sign-on token": ("GET", None, lambda v: {}, None),
    "session cookie": ("POST", "/console/logout", lambda v: {"Cookie": "proctorpy_console=" + v}, None),
    "csrf token": ("POST", "/console/logout", lambda v: {}, lambda v: {"csrf_token": v}),
}


@pytest.mark.parametrize("value", NON_ASCII, ids=["superscript-digits", "accented", "latin-1-ff"])
@pytest.mark.parametrize("what", sorted(MALFORMED))
def test_malformed_headers_are_refused_with_json(app, what, value):
    method, path, headers, form = MALFORMED[what]
    client = app.test_client()
    if what == "csrf token":
        signed_in(client)
    if path is None:
        path = "/console/sso?token=" + upload_token()[:-1] + value
    response = client.open(path, method=method, headers={"Accept": "application/json", **headers(value)},
                           data=form(value) if form else b"{}", content_type=None if form else "application/json")
    assert response.status_code in (401, 403), response.data[:300]
    assert set(response.json) == {"error", "message"} and response.json["message"]
