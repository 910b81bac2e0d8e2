"""The console in headless Chromium against a real gunicorn sidecar: SSO, dry run, purge, ZIP download."""
import csv
import hashlib
import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from sidecar.db import connect, migrate
from sidecar.signing import make_token
from test_retention import image_files, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]


@pytest.fixture
def browser_page(playwright, tmp_path):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        accept_downloads=True, viewport={"width": 1200, "height": 900})
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def sso_link(sidecar):
    token = make_token(sidecar.secret, {"p": "sso", "uid": 2, "name": "Admin User", "exp": int(time.time()) + 60,
                                        "n": os.urandom(8).hex()})
    return f"{sidecar.url}/console/sso?token={token}"


def test_sso_dry_run_purge_confirm_and_zip_download(live_sidecar, browser_page, tmp_path):
    live_sidecar.stop()
    db_path = live_sidecar.database
    database = connect(db_path)
    migrate(database)
    database.close()
    seed(db_path, live_sidecar.images, 3, 11, 3, 4, first_attempt=1, cm_id=12)
    seed(db_path, live_sidecar.images, 4, 12, 2, 4, first_attempt=20, cm_id=31)
    live_sidecar.start()
    page = browser_page
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page.goto(sso_link(live_sidecar))
    page.wait_for_url(f"{live_sidecar.url}/console/")
    assert page.locator("h1").first.inner_text() == "Storage"
    assert "Admin User" in page.locator("header").inner_text()

    page.click("text=Purge")
    page.fill("input[name=course_id]", "3")
    page.click("text=Show what would be deleted")
    assert page.locator("#dry-attempts").inner_text() == "3"
    assert page.locator("#dry-camshots").inner_text() == "12"
    assert len(image_files(live_sidecar.images, 3)) == 12  # the dry run deleted nothing
    page.click("#confirm")
    assert "Deleted 3 attempts, 12 camshots" in page.locator("#purged").inner_text()
    assert image_files(live_sidecar.images, 3) == []
    assert len(image_files(live_sidecar.images, 4)) == 8

    page.click("text=Export")
    # The quiz as its Moodle address names it (view.php?id=31), picked from the quizzes the sidecar holds.
    assert page.locator("#known-quizzes option[value='31']").get_attribute("value") == "31"
    page.fill("input[name=cm_id]", "31")
    page.click("text=Show the size")
    assert "2 attempts, 8 camshots" in page.locator("#export-size").inner_text()
    assert "Quiz 12 in Course 4 (view.php?id=31): 2 attempt(s)" in page.locator("#reached-quizzes").inner_text()
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.name.startswith("proctorpy-export-") and target.suffix == ".zip"
    archive = zipfile.ZipFile(target)
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert len(manifest) == 8
    for row in manifest:
        assert hashlib.sha256(archive.read(row["file"])).hexdigest() == row["sha256"]

    page.click("text=Audit log")
    log = page.locator("table").inner_text()
    assert "purge" in log and "export" in log and "console_sign_in" in log
    assert errors == [], errors  # no CSP violation or script error on any page


def test_replayed_sso_link_is_refused_in_the_browser(live_sidecar, browser_page):
    link = sso_link(live_sidecar)
    browser_page.goto(link)
    browser_page.wait_for_url(f"{live_sidecar.url}/console/")
    response = browser_page.goto(link)
    assert response.status == 401
    assert "used already" in browser_page.locator("main").inner_text()


def screenshot_console(sidecar, page, folder):
    """Screenshots of every console page, for a person to look at (run by hand, see bench/RESULTS.md)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    page.goto(sso_link(sidecar))
    page.wait_for_url(f"{sidecar.url}/console/")
    for name, path in [("dashboard", "/console/"), ("courses", "/console/courses"), ("course", "/console/courses/3"),
                       ("quiz", "/console/quizzes/11"), ("attempt", "/console/attempts/1"),
                       ("report", "/console/attempts/1/report"), ("policies", "/console/policies"),
                       ("purge", "/console/purge?course_id=3&preview=1"),
                       ("export", "/console/export?cm_id=12&preview=1"), ("audit", "/console/audit")]:
        page.goto(sidecar.url + path)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
