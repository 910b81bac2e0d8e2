"""Following docs/admin-guide.md on a fresh data dir ends with a sidecar running as systemd runs it.

The unit file's Environment, ExecStart, ExecReload, KillSignal and TimeoutStopSec are used as
written; only the install paths (/opt/proctorpy, /etc/proctorpy, /run/proctorpy) are mapped into
a temporary folder, as the guide's commands are.
"""
import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import nginx
from conftest import REPO, LiveSidecar, free_port
from processes import wait_for
from sidecar.cli import cli
from sidecar.client import SidecarClient
from sidecar.config import load_config
from sidecar.console import admins
from sidecar.db import connect, write_transaction
from sidecar.server import web_worker_count

UNIT = REPO / "deploy" / "proctorpy.service"
GUIDE = REPO / "docs" / "admin-guide.md"


def unit_service_section():
    """{key: [values]} of the unit's [Service] section."""
    section, values = None, {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def guide_commands():
    """The shell lines of the guide's ```sh blocks."""
    return [line for block in re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S) for line in block.splitlines()]


def test_every_proctorpy_command_the_guide_names_exists():
    # As a command is written in the guide: `proctorpy verb ...` in text, .../bin/proctorpy verb in blocks.
    named = set(re.findall(r"(?:`|bin/)proctorpy (\w+)", GUIDE.read_text()))
    assert named <= set(cli.commands), named - set(cli.commands)
    assert {"init", "check", "backup", "restore", "purge", "export", "secret", "admin", "retention"} <= named


def test_following_the_admin_guide_ends_with_a_supervised_running_sidecar(tmp_path):
    service = unit_service_section()
    port = free_port()
    paths = {
        "/opt/proctorpy/.venv/bin/": str(REPO / ".venv" / "bin") + "/",
        "/etc/proctorpy/config.toml": str(tmp_path / "etc" / "config.toml"),
        "/run/proctorpy": str(tmp_path / "run"),
    }

    def mapped(text):
        for original, here in paths.items():
            text = text.replace(original, here)
        return text

    # Section 2 and 3: the configuration from deploy/, with the admin's edits.
    (tmp_path / "etc").mkdir()
    (tmp_path / "run").mkdir()
    config = (REPO / "deploy" / "config.toml").read_text()
    config = config.replace('data_dir = "/var/lib/proctorpy"', f'data_dir = "{tmp_path / "var-lib-proctorpy"}"')
    config = config.replace("port = 8765", f"port = {port}")
    config = re.sub(r"min_free_bytes = \d+", "min_free_bytes = 1048576", config)
    (tmp_path / "etc" / "config.toml").write_text(config)
    environment = {**os.environ}
    for name in [key for key in environment if key.startswith("PROCTORPY_") or key == "PROMETHEUS_MULTIPROC_DIR"]:
        del environment[name]

    # Section 3: the guide's init and check lines, as written (run as this user, not via sudo).
    for verb in ("init", "check"):
        line = next(line for line in guide_commands() if line.endswith(f"bin/proctorpy {verb}"))
        command = shlex.split(mapped(line))
        assert command[:4] == ["sudo", "-u", "proctorpy", "env"]
        result = subprocess.run(command[3:], env=environment, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        if verb == "init":
            assert "Shared secret (paste it into Moodle" in result.stdout
    secret_line = next(line for line in guide_commands() if line.endswith("bin/proctorpy init"))
    secret = subprocess.run(shlex.split(mapped(secret_line.replace(" init", " secret")))[3:], env=environment,
                            capture_output=True, text=True, timeout=60).stdout.strip()

    # Section 4: the unit, as systemd would start it.
    for assignment in service["Environment"]:
        name, _, value = mapped(assignment).partition("=")
        environment[name] = value
    journal = tmp_path / "journal.log"
    with open(journal, "w") as log:
        sidecar = subprocess.Popen(shlex.split(mapped(service["ExecStart"][0])), env=environment,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        health = wait_for_health(url, sidecar, journal)
        assert health["status"] == "ok"
        client = SidecarClient(url, secret)
        assert client.request("GET", "/api/v1/ping")[1]["ok"] is True
        with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
            assert b"proctorpy_disk_free_bytes" in response.read()
        assert list((tmp_path / "run" / "metrics").iterdir()), "counters kept in the unit's RuntimeDirectory"

        # systemctl reload: ExecReload sends SIGHUP to the main process; web workers are replaced.
        pid_file = tmp_path / "var-lib-proctorpy" / "gunicorn.pid"
        # As many web workers as the master starts from the unit's configuration. The first answers the health
        # check while the others may still be starting, so all of them are waited for before the reload.
        workers = web_worker_count(load_config(environ=environment))

        def all_workers(other_than=()):
            pids = worker_pids(pid_file)
            return pids if len(pids) == workers and not set(pids) & set(other_than) else None

        try:
            before = wait_for(all_workers, 120, f"the master's {workers} web workers")
            reload_command = shlex.split(service["ExecReload"][0].replace("$MAINPID", str(sidecar.pid)))
            subprocess.run(reload_command, check=True)
            # A cap, not a wait: on a loaded machine the master may take a while to fork its new workers.
            wait_for(lambda: all_workers(other_than=before), 120, "new web workers in place of the old ones")
        except AssertionError as error:
            pytest.fail(f"{error}; the sidecar's log:\n{journal.read_text()}")
        assert client.request("GET", "/api/v1/ping")[0] == 200
    finally:
        # systemctl stop: KillSignal to the main process, TimeoutStopSec to finish.
        sidecar.send_signal(getattr(signal, service["KillSignal"][0]))
        try:
            code = sidecar.wait(timeout=int(service["TimeoutStopSec"][0]))
        finally:
            if sidecar.poll() is None:
                os.killpg(sidecar.pid, signal.SIGKILL)
                sidecar.wait()
    assert code == 0, journal.read_text()[-2000:]


def wait_for_health(url, process, journal, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, journal.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the sidecar did not answer /healthz in time")


def worker_pids(pid_file):
    """The web workers of the master in pid_file; none while a reload removes and rewrites the file."""
    try:
        master = int(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return []
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return sorted(int(pid) for pid in out.split())


OPENSSL = shutil.which("openssl")


@contextlib.contextmanager
def console_behind_nginx(sidecar, tmp_path):
    """nginx running deploy/nginx-console.conf as shipped (only ports and certificate mapped) in front of
    sidecar; yields its HTTPS and plain HTTP ports once it answers."""
    tls_port, http_port = free_port(), free_port()
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=proctorpy.example.edu", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    console = nginx.snippet("nginx-console.conf", {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{tls_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "/etc/ssl/certs/proctorpy.example.edu.pem": str(tmp_path / "cert.pem"),
        "/etc/ssl/private/proctorpy.example.edu.key": str(tmp_path / "key.pem"),
        "127.0.0.1:8765": f"127.0.0.1:{sidecar.port}",
    })
    (tmp_path / "console.conf").write_text(console)
    server = nginx.Nginx(tmp_path, f"include {tmp_path}/console.conf;", [tls_port, http_port]).start()
    try:
        yield tls_port, http_port
    finally:
        server.stop()


def unverified_tls():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.mark.skipif(not OPENSSL, reason="openssl is not installed")
def test_the_nginx_snippet_publishes_the_console_and_nothing_else(live_sidecar, tmp_path):
    unverified = unverified_tls()

    with console_behind_nginx(live_sidecar, tmp_path) as (tls_port, http_port):
        url = f"https://127.0.0.1:{tls_port}"

        def status(path):
            request = urllib.request.Request(url + path, headers={"Host": "proctorpy.example.edu"})
            try:
                with urllib.request.urlopen(request, timeout=5, context=unverified) as response:
                    return response.status, response.read().decode(errors="replace")
            except urllib.error.HTTPError as error:
                with error:
                    return error.code, error.read().decode(errors="replace")

        code, page = status("/console/login")
        assert code == 200 and "Sign in" in page
        for path in ("/api/v1/ping", "/api/v1/openapi.json", "/metrics", "/healthz", "/",
                     "/console/../metrics", "/console/%2e%2e/metrics", "/console/..%2fapi/v1/ping"):
            code, body = status(path)
            assert code in (400, 404) and "proctorpy_" not in body, (path, code)
        # Plain HTTP only redirects to HTTPS.
        plain = urllib.request.Request(f"http://127.0.0.1:{http_port}/console/", headers={"Host": "proctorpy.example.edu"})
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(plain, timeout=5)
        with redirect.value:
            assert redirect.value.code == 301
            assert redirect.value.headers["Location"] == "https://proctorpy.example.edu/console/"


def sign_in_from(address, tls_port, name, password, forwarded_for=None):
    """A browser at address (a loopback alias) signs in through nginx; the status of its sign-in."""
    def connection():
        return http.client.HTTPSConnection("127.0.0.1", tls_port, timeout=10, context=unverified_tls(),
                                           source_address=(address, 0))

    page = connection()
    page.request("GET", "/console/login", headers={"Host": "proctorpy.example.edu"})
    answer = page.getresponse()
    cookie = answer.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', answer.read().decode()).group(1)
    page.close()
    form = urllib.parse.urlencode({"csrf_token": token, "name": name, "password": password})
    headers = {"Host": "proctorpy.example.edu", "Cookie": cookie, "Accept": "application/json",
               "Content-Type": "application/x-www-form-urlencoded"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    post = connection()
    post.request("POST", "/console/login", body=form, headers=headers)
    status = post.getresponse().status
    post.close()
    return status


@pytest.mark.skipif(not OPENSSL, reason="openssl is not installed")
def test_guesses_under_made_up_names_behind_nginx_lock_out_only_their_sender(tmp_path, backend_env, migrated_data_dir):
    # Behind the shipped nginx every request reaches the sidecar from 127.0.0.1; the browsers here come
    # from other loopback addresses, as clients come from their own.
    sidecar = LiveSidecar(migrated_data_dir(tmp_path / "live"),
                          env={**backend_env, "PROCTORPY_SERVER_TRUSTED_PROXIES": "127.0.0.1"}).start()
    database = connect(sidecar.database)
    with write_transaction(database):
        admins.create(database, "alice", "correct horse battery")
    try:
        with console_behind_nginx(sidecar, tmp_path) as (tls_port, _):
            guesses = [sign_in_from("127.0.0.2", tls_port, f"made-up-{n}", "guess") for n in range(20)]
            assert guesses == [401] * 20
            # Locked, even claiming to forward for someone else: nginx appends the address it saw.
            assert sign_in_from("127.0.0.2", tls_port, "alice", "correct horse battery", "198.51.100.7") == 429
            assert sign_in_from("127.0.0.3", tls_port, "alice", "correct horse battery") == 302
            # Five wrong passwords for alice from one address lock her out from there, not from elsewhere.
            assert [sign_in_from("127.0.0.4", tls_port, "alice", "guess") for _ in range(5)] == [401] * 5
            assert sign_in_from("127.0.0.4", tls_port, "alice", "correct horse battery") == 429
            assert sign_in_from("127.0.0.3", tls_port, "alice", "correct horse battery") == 302
        locked = database.execute("SELECT selection FROM audit_log WHERE action = 'console_sign_in_locked' "
                                  "ORDER BY id").fetchall()
        assert [row[0] for row in locked] == ['{"address": "127.0.0.2"}',
                                              '{"account": "alice", "address": "127.0.0.4"}']
    finally:
        database.close()
        sidecar.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
