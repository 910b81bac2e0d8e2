"""deploy/nginx-direct-upload.conf in a real nginx in front of a real sidecar: what passes, what not."""
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import SECRET, free_port
from sidecar.signing import make_token

REPO = Path(__file__).resolve().parents[1]
SNIPPET = REPO / "deploy" / "nginx-direct-upload.conf"
CLIENT_CLI = REPO / "moodle_plugin" / "quizaccess_proctorpy" / "tests" / "fixtures" / "client_cli.php"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (Debian: nginx-light)")


@pytest.fixture
def nginx(live_sidecar, tmp_path):
    """nginx serving a Moodle host whose server block includes the snippet, pointed at the live sidecar."""
    port = free_port()
    snippet = SNIPPET.read_text().replace("127.0.0.1:8765", f"127.0.0.1:{live_sidecar.port}")
    (tmp_path / "direct.conf").write_text(snippet)
    (tmp_path / "nginx.conf").write_text(f"""
        daemon off;
        master_process off;
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/error.log;
        events {{}}
        http {{
            access_log off;
            client_body_temp_path {tmp_path}/body;
            proxy_temp_path {tmp_path}/proxy;
            server {{
                listen 127.0.0.1:{port};
                server_name moodle.test;
                location / {{ return 200 "Moodle\\n"; }}
                include {tmp_path}/direct.conf;
            }}
        }}
    """)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def call(url, method="GET", body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_snippet_passes_health_and_direct_uploads_only(nginx, live_sidecar):
    status, body = call(nginx + "/proctorpy/healthz")
    assert status == 200 and json.loads(body)["api"] == "v1"

    live_sidecar.client.put_attempt(5, user_id=9, user_fullname="Ada", course_id=1, quiz_id=2, cm_id=3,
                                    started_at=int(time.time()))
    token = make_token(SECRET, {"a": 5, "u": 9, "exp": int(time.time()) + 600})
    event = json.dumps({"attempt_id": 5, "user_id": 9, "type": "tab_hidden", "at": int(time.time() * 1000),
                        "client_event_id": "e"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token,
               "Origin": nginx, "Sec-Fetch-Site": "same-origin", "Cookie": "MoodleSession=secret"}
    status, body = call(nginx + "/proctorpy/api/v1/direct/events", "POST", event, headers)
    assert status == 201, body
    status, body = call(nginx + "/proctorpy/api/v1/direct/events", "POST", event,
                        {**headers, "Origin": "https://elsewhere.example"})
    assert status == 403 and json.loads(body)["error"] == "cross_site"

    # Nothing else of the sidecar is reachable through the public path.
    for path in ("/proctorpy/api/v1/ping", "/proctorpy/api/v1/openapi.json", "/proctorpy/metrics",
                 "/proctorpy/console/", "/proctorpy/api/v1/direct/../attempts/5", "/proctorpy/api/v1/direct/%2e%2e/ping"):
        status, _ = call(nginx + path)
        assert status in (403, 404), path
    status, _ = call(nginx + "/proctorpy/api/v1/direct/events")
    assert status == 403, "only POST passes to the upload endpoints"
    status, _ = call(nginx + "/proctorpy/healthz", "POST", b"{}")
    assert status == 403, "only GET passes to the health endpoint"


def test_plugin_connection_check_through_nginx(nginx):
    result = subprocess.run(["php", str(CLIENT_CLI), nginx + "/proctorpy", "-", "checkdirect"], capture_output=True,
                            text=True, timeout=60)
    assert json.loads(result.stdout)["problem"] == "ok", result.stdout + result.stderr
