"""The console in headless Chromium against a real gunicorn sidecar: SSO, dry run, purge, ZIP download."""
import csv
import hashlib
import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from axe import violations
from sidecar.db import connect, migrate
from sidecar.signing import make_token
from test_retention import image_files, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")]


def open_page(playwright, tmp_path, **options):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        accept_downloads=True, viewport={"width": 1200, "height": 900}, **options)
    return context, context.pages[0] if context.pages else context.new_page()


@pytest.fixture
def browser_page(playwright, tmp_path):
    context, page = open_page(playwright, tmp_path)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def axe_page(playwright, tmp_path):
    """A page into which axe-core can be injected: the console's CSP allows no script but its own."""
    context, page = open_page(playwright, tmp_path, bypass_csp=True)
    try:
        yield page
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
    # The run's page follows the purge until it is done, then shows its totals.
    page.wait_for_url(f"{live_sidecar.url}/console/purge/runs/*")
    assert "Deleted 3 attempts, 12 camshots" in page.locator("#purged").inner_text(timeout=30000)
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
    # The page shows how much of the ZIP was sent, read back from the sidecar as the download goes.
    page.wait_for_selector("#export-status:has-text('the download is complete')")
    assert page.locator("#export-bar").evaluate("bar => bar.value > 0 && bar.value >= bar.max * 0.9")
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


CONSOLE_PAGES = [("dashboard", "/console/"), ("courses", "/console/courses"), ("course", "/console/courses/3"),
                 ("quiz", "/console/quizzes/11"), ("attempt", "/console/attempts/1"),
                 ("report", "/console/attempts/1/report"), ("policies", "/console/policies"),
                 ("purge", "/console/purge?course_id=3&preview=1"), ("export", "/console/export?cm_id=12&preview=1"),
                 ("audit", "/console/audit")]


def test_console_pages_pass_axe_and_work_from_the_keyboard(live_sidecar, axe_page):
    live_sidecar.stop()
    database = connect(live_sidecar.database)
    migrate(database)
    database.close()
    seed(live_sidecar.database, live_sidecar.images, 3, 11, 2, 3, first_attempt=1, cm_id=12)
    live_sidecar.start()
    page = axe_page
    # The check itself finds what it is for: an image without a text alternative, a button without a name.
    page.set_content('<html lang="en"><title>t</title><main><img src="data:,"><button></button></main></html>')
    assert {"image-alt", "button-name"} <= set(violations(page)), violations(page)
    page.goto(f"{live_sidecar.url}/console/login")
    found = {"login": violations(page)}
    page.goto(sso_link(live_sidecar))
    page.wait_for_url(f"{live_sidecar.url}/console/")
    for name, path in CONSOLE_PAGES:
        page.goto(live_sidecar.url + path)
        found[name] = violations(page)

    # A purge from the keyboard alone: Tab to the confirm button, Enter; the run's page, running and done.
    page.goto(f"{live_sidecar.url}/console/purge?course_id=3&preview=1")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "confirm":
            break
    assert page.evaluate("document.activeElement.id") == "confirm", "the confirm button is not reached by Tab"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_sidecar.url}/console/purge/runs/*")
    found["purge run"] = violations(page)
    page.wait_for_selector("#purged", timeout=30000)
    found["purge done"] = violations(page)
    counts = {name: len(rules) for name, rules in found.items()}
    print("axe serious/critical violations per console page:", counts)
    assert {name: rules for name, rules in found.items() if rules} == {}


def screenshot_console(sidecar, page, folder):
    """Screenshots of every console page, for a person to look at (run by hand, see bench/RESULTS.md)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    page.goto(sso_link(sidecar))
    page.wait_for_url(f"{sidecar.url}/console/")
    for name, path in CONSOLE_PAGES:
        page.goto(sidecar.url + path)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
