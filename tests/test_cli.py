"""The proctorpy command: init, check, secret, and one-line configuration errors."""
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sidecar.cli import cli


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_init_creates_and_prints_the_secret_once(tmp_path):
    data = str(tmp_path / "data")
    first = run("init", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    assert first.exit_code == 0 and "shown once" in first.output
    secret = (tmp_path / "data" / "secret").read_text().strip()
    assert secret in first.output and len(secret) >= 32
    assert oct((tmp_path / "data" / "secret").stat().st_mode & 0o777) == "0o600"
    again = run("init", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    assert secret not in again.output and "already set" in again.output


def test_secret_show_rotate_and_environment(tmp_path):
    data = str(tmp_path / "data")
    run("init", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    stored = (tmp_path / "data" / "secret").read_text().strip()
    assert run("secret", "--data-dir", data, env={"PROCTORPY_SECRET": ""}).output.startswith(stored)
    rotated = run("secret", "--rotate", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    assert (tmp_path / "data" / "secret").read_text().strip() != stored
    assert "Rotated" in rotated.output
    chosen = run("secret", "--data-dir", data, env={"PROCTORPY_SECRET": "chosen-by-the-installer-123"})
    assert chosen.output.startswith("chosen-by-the-installer-123")


def test_check_passes_on_a_fresh_install_and_names_problems(tmp_path):
    data = str(tmp_path / "data")
    missing = run("check", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    assert missing.exit_code == 1
    assert "PROBLEM database" in missing.output and "proctorpy init" in missing.output
    run("init", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    healthy = run("check", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    assert healthy.exit_code == 0, healthy.output
    assert "face models: ok" in healthy.output and "database: ok" in healthy.output
    assert "with BLAS" in healthy.output
    full = run("check", "--data-dir", data, env={"PROCTORPY_SECRET": "", "PROCTORPY_STORAGE_MIN_FREE_BYTES": str(2**62)})
    assert full.exit_code == 1 and "PROBLEM disk" in full.output


def test_bad_configuration_is_one_line_not_a_traceback(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nport = 'http'\n")
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "check", "--config", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"proctorpy: configuration error: {config}: server.port must be int, got 'http'"


def test_short_secret_is_refused(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "secret", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, env={"PROCTORPY_SECRET": "short", "PATH": "/usr/bin"})
    assert result.returncode == 2 and "at least 16 characters" in result.stderr


def test_serve_prints_the_console_address_and_how_to_sign_in(live_sidecar):
    log = live_sidecar.log.read_text()
    assert f"Admin console: {live_sidecar.url}/console/" in log
    assert "proctorpy admin create" in log
    assert "proctorpy demo" in log


@pytest.mark.parametrize("settings, warned", [
    ({}, []),
    ({"PROCTORPY_SERVER_PUBLIC_URL": "https://proctorpy.example.edu"}, []),
    ({"PROCTORPY_SERVER_PUBLIC_URL": "http://127.0.0.1:8765"}, []),
    ({"PROCTORPY_SERVER_HOST": "::1"}, []),
    ({"PROCTORPY_SERVER_PUBLIC_URL": "http://proctorpy.example.edu"}, ["server.public_url http://proctorpy.example.edu"]),
    ({"PROCTORPY_SERVER_HOST": "0.0.0.0"}, ["server.host 0.0.0.0"]),
    ({"PROCTORPY_SERVER_HOST": "10.0.0.5", "PROCTORPY_SERVER_PUBLIC_URL": "http://10.0.0.5:8765"},
     ["server.public_url http://10.0.0.5:8765", "server.host 10.0.0.5"]),
])
def test_check_warns_of_plain_http_beyond_this_host(tmp_path, settings, warned):
    data = str(tmp_path / "data")
    run("init", "--data-dir", data, env={"PROCTORPY_SECRET": ""})
    result = run("check", "--data-dir", data, env={"PROCTORPY_SECRET": "", **settings})
    warnings = [line for line in result.output.splitlines() if line.startswith("WARNING plain HTTP: ")]
    assert [line.split(": ", 1)[1].split(" is plain")[0].split(" listens")[0] for line in warnings] == warned
    assert result.exit_code == 0, result.output  # a warning, not a problem
