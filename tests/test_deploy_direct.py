"""deploy/nginx-direct-upload.conf in a real nginx in front of a real sidecar: what passes, what not."""
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import nginx
from conftest import SECRET, free_port
from sidecar.signing import make_token

REPO = Path(__file__).resolve().parents[1]
CLIENT_CLI = REPO / "moodle_plugin" / "quizaccess_proctorpy" / "tests" / "fixtures" / "client_cli.php"


@pytest.fixture
def moodle_host(live_sidecar, tmp_path):
    """nginx serving a Moodle host whose server block includes the snippet, pointed at the live sidecar."""
    port = free_port()
    direct = nginx.snippet("nginx-direct-upload.conf", {"127.0.0.1:8765": f"127.0.0.1:{live_sidecar.port}"})
    (tmp_path / "direct.conf").write_text(direct)
    server = nginx.Nginx(tmp_path, f"""
        server {{
            listen 127.0.0.1:{port};
            server_name moodle.test;
            location / {{ return 200 "Moodle\\n"; }}
            include {tmp_path}/direct.conf;
        }}
    """, [port]).start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def call(url, method="GET", body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_snippet_passes_health_and_direct_uploads_only(moodle_host, live_sidecar):
    status, body = call(moodle_host + "/proctorpy/healthz")
    assert status == 200 and json.loads(body)["api"] == "v1"

    live_sidecar.client.put_attempt(5, user_id=9, user_fullname="Ada", course_id=1, quiz_id=2, cm_id=3,
                                    started_at=int(time.time()))
    token = make_token(SECRET, {"a": 5, "u": 9, "exp": int(time.time()) + 600})
    event = json.dumps({"attempt_id": 5, "user_id": 9, "type": "tab_hidden", "at": int(time.time() * 1000),
                        "client_event_id": "e"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token,
               "Origin": moodle_host, "Sec-Fetch-Site": "same-origin", "Cookie": "MoodleSession=secret"}
    status, body = call(moodle_host + "/proctorpy/api/v1/direct/events", "POST", event, headers)
    assert status == 201, body
    status, body = call(moodle_host + "/proctorpy/api/v1/direct/events", "POST", event,
                        {**headers, "Origin": "https://elsewhere.example"})
    assert status == 403 and json.loads(body)["error"] == "cross_site"

    # Nothing else of the sidecar is reachable through the public path.
    for path in ("/proctorpy/api/v1/ping", "/proctorpy/api/v1/openapi.json", "/proctorpy/metrics",
                 "/proctorpy/console/", "/proctorpy/api/v1/direct/../attempts/5", "/proctorpy/api/v1/direct/%2e%2e/ping"):
        status, _ = call(moodle_host + path)
        assert status in (403, 404), path
    status, _ = call(moodle_host + "/proctorpy/api/v1/direct/events")
    assert status == 403, "only POST passes to the upload endpoints"
    status, _ = call(moodle_host + "/proctorpy/healthz", "POST", b"{}")
    assert status == 403, "only GET passes to the health endpoint"


def test_plugin_connection_check_through_nginx(moodle_host):
    result = subprocess.run(["php", str(CLIENT_CLI), moodle_host + "/proctorpy", "-", "checkdirect"], capture_output=True,
                            text=True, timeout=60)
    assert json.loads(result.stdout)["problem"] == "ok", result.stdout + result.stderr
