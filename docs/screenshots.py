"""Take the admin guide's screenshots of the sidecar console from a real sidecar holding the demo data set.

Loads `proctorpy demo` into a fresh data dir, creates a local console admin, starts
`proctorpy serve` on a loopback port, and photographs the console pages the admin guide
shows with headless Chromium (Debian's /usr/bin/chromium through Playwright).
Writes docs/screenshots/console-*.png; the teacher guide's, of Moodle's pages, come from docs/moodle_screenshots.py.

    .venv/bin/python docs/screenshots.py
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ADMIN, PASSWORD = "admin", "demo-password-for-screenshots"
COURSE_ID, QUIZ_ID = 9001, 9101
PAGES = [
    # (file, path, what the guides say about it)
    ("console-dashboard.png", "/console/", "disk usage, growth, queue"),
    ("console-quiz.png", f"/console/quizzes/{QUIZ_ID}", "a quiz's attempts and retention"),
    ("console-policies.png", "/console/policies", "retention policies"),
    ("console-purge-dry-run.png", f"/console/purge?quiz_id={QUIZ_ID}&preview=1", "purge with its dry run"),
    ("console-export.png", f"/console/export?quiz_id={QUIZ_ID}&preview=1", "ZIP export of a selection"),
    ("console-audit.png", "/console/audit", "the audit log"),
    ("console-attempt.png", "/console/attempts/90004", "an attempt: legal hold, its report"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proctorpy(env, *args, stdin=None, quiet=False):
    """Run a proctorpy command; quiet drops its request log (the demo posts through the API)."""
    subprocess.run([sys.executable, "-m", "sidecar.cli", *args], env=env, input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None)


def wait_for(url, process, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("the sidecar exited before it answered")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the sidecar did not answer in time")


def photograph(url, user_data_dir):
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            user_data_dir, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860})
        page = browser.new_page()
        page.goto(url + "/console/login")
        page.screenshot(path=OUT / "console-sign-in.png")
        page.fill("input[name=name]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for name, path, _ in PAGES:
            page.goto(url + path)
            page.screenshot(path=OUT / name, full_page=True)
        browser.close()


def main():
    work = Path(tempfile.mkdtemp(prefix="proctorpy-screenshots-"))
    port = free_port()
    env = {**os.environ, "PROCTORPY_STORAGE_DATA_DIR": str(work / "data"), "PROCTORPY_SERVER_PORT": str(port),
           "PROCTORPY_ANALYSIS_WITH_SERVER": "false", "PROCTORPY_STORAGE_MIN_FREE_BYTES": "0"}
    env.pop("PROCTORPY_CONFIG", None)
    server = None
    try:
        proctorpy(env, "init")
        proctorpy(env, "demo", quiet=True)
        proctorpy(env, "admin", "create", ADMIN, "--password-stdin", stdin=PASSWORD + "\n")
        server = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        wait_for(url, server)
        photograph(url, str(work / "chromium"))
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
