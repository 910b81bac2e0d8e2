"""Long commands say how far they have got: click's bar with counts and time left on a terminal, a plain
line at each tenth in a log or a pipe."""
import os
import pty
import subprocess
import sys

import pytest

from conftest import SECRET
from test_retention import image_files, seed


def run_in_terminal(args, env):
    """Run a command with a real pseudo-terminal as its standard streams; (exit code, what it wrote)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, env=env, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    written = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when the command and its children are gone
            break
        if not chunk:
            break
        written += chunk
    os.close(leader)
    return process.wait(timeout=60), written.decode(errors="replace")


@pytest.fixture
def seeded(app):
    """Two quizzes of 12 camshots each, in a data dir a command can open, with purges of 5 camshots a batch."""
    seed(app.config["DATABASE"], app.config["IMAGES"], 3, 11, 3, 4, first_attempt=1)
    seed(app.config["DATABASE"], app.config["IMAGES"], 4, 12, 3, 4, first_attempt=10)
    env = {**os.environ, "PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(app.config["DATA_DIR"]),
           "PROCTORPY_RETENTION_BATCH_SIZE": "5", "PROCTORPY_RETENTION_PAUSE_RATIO": "0"}
    env.pop("PROCTORPY_CONFIG", None)
    return app, env


def test_purge_in_a_log_writes_a_line_at_each_tenth(seeded):
    app, env = seeded
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "purge", "--course-id", "3", "--yes"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Purging:")]
    assert lines == ["Purging: 5 of 12 camshots (40 %)", "Purging: 10 of 12 camshots (80 %)",
                     "Purging: 12 of 12 camshots (100 %)"], result.stderr
    assert "\r" not in result.stderr and image_files(app.config["IMAGES"], 3) == []


def test_purge_and_export_on_a_terminal_draw_click_bars_with_counts(seeded, tmp_path):
    app, env = seeded
    code, written = run_in_terminal([sys.executable, "-m", "sidecar.cli", "purge", "--course-id", "3", "--yes"], env)
    assert code == 0, written
    assert "Purging" in written and "12/12" in written and "100%" in written, written
    assert "\r" in written, "the bar is redrawn in place"
    target = tmp_path / "quiz.zip"
    code, written = run_in_terminal([sys.executable, "-m", "sidecar.cli", "export", "--course-id", "4",
                                     "-o", str(target)], env)
    assert code == 0, written
    assert f"Writing {target}" in written and "100%" in written and target.stat().st_size > 0, written


def test_backup_in_a_log_counts_the_files_it_copies(seeded, tmp_path):
    app, env = seeded
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "backup", str(tmp_path / "b")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Backing up:")]
    assert lines[0] == "Backing up: 3 of 24 files (10 %)" and lines[-1] == "Backing up: 24 of 24 files (100 %)"
    assert len(lines) == 10, lines
