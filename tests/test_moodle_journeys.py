"""The users' journeys (DESIGN.md 1-6) in a real Moodle 4.5 on PostgreSQL behind php-fpm and nginx, with a
real sidecar analysing faces, driven in headless Chromium whose webcam plays videos made from face photos.

One site for the whole module, in the order of the story: the admin installs the previous release and
upgrades it, configures the plugin and tests the connection, the teacher turns proctoring on, three
students take the quiz (forwarded, direct, and one in another's place), the teachers read the reports,
and privacy requests export and delete. Every step leaves a screenshot in build/moodle-journeys/.
"""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import moodle_site
from conftest import FACES, LiveSidecar, free_port
from sidecar.client import SidecarError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "moodle"))
import face_video  # noqa: E402  (tests/moodle is not a package)

PLUGIN = moodle_site.PLUGIN
MAKE_COURSE = REPO / "tests" / "moodle" / "make_course.php"
QUIZ_CLI = REPO / "tests" / "moodle" / "quiz_cli.php"
NGINX_DIRECT = REPO / "deploy" / "nginx-direct-upload.conf"
SCREENSHOTS = REPO / "build" / "moodle-journeys"
PREVIOUS_RELEASE = "3dbe533"  # the first commit whose plugin installs
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream"]
PASSWORD = "Test-pass-1"
SECTION = "modsettingsquizcatproctorpy"
# The teacher's settings in the quiz form: a short interval so that a few camshots arrive quickly.
QUIZ_FORM = {"intervalmin": "5", "intervalmax": "6", "imagewidth": "320", "identitycheck": "face", "threshold": "70",
             "retentiondays": "30"}
# What Moodle prints when debugging output reaches a page.
DEBUGGING = re.compile(r"(Notice|Warning|Deprecated|Fatal error|Parse error|Debug info|Stack trace|Coding error)"
                       r"( detected)?:", re.I)

pytestmark = pytest.mark.slow


def wait_for(check, timeout, what, interval=0.3):
    """Poll check() until it returns something true; fail naming what did not happen."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = check()
        except SidecarError as error:
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {str(last)[:500]})")


def plugin_version(folder):
    text = (Path(folder) / "version.php").read_text()
    return int(re.search(r"\$plugin->version\s*=\s*(\d+)", text).group(1))


class Journey:
    """The site, the sidecar, the browsers and what the story has made so far."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.site = None
        self.sidecar = None
        self.playwright = None
        self.browsers = {}
        self.contexts = []
        self.videos = {}
        self.ids = {}
        self.attempts = {}  # username: attempt id
        self.upgrade_attempt = None
        self.step = 0
        self.screenshots = []
        self.debugging = []  # (screenshot, text) of every page that showed debugging output

    # --- the site -----------------------------------------------------------------------------
    def psql(self, sql):
        return self.site.psql(sql, self.site.dbname).strip()

    def php(self, *args):
        return self.site.php(*args).stdout

    def cli(self, *args):
        out = self.php(QUIZ_CLI, self.site.www, *args)
        return json.loads(out.strip().splitlines()[-1])

    def config(self):
        rows = self.psql("select name || '=' || coalesce(value, '') from mdl_config_plugins "
                         "where plugin = 'quizaccess_proctorpy' order by name")
        return dict(line.split("=", 1) for line in rows.splitlines())

    def quiz_row(self):
        row = self.psql("select row_to_json(p) from mdl_quizaccess_proctorpy p where quizid = %d" % self.ids["quiz"])
        return json.loads(row) if row else None

    def attempt_json(self, attempt_id):
        return self.sidecar.client.get_attempt(attempt_id)

    # --- the browsers ------------------------------------------------------------------------
    def browser(self, video):
        """One Chromium per webcam video (the fake camera is chosen at launch)."""
        if video not in self.browsers:
            self.browsers[video] = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={self.videos[video]}"])
        return self.browsers[video]

    def login(self, username, password=PASSWORD, video="student1"):
        context = self.browser(video).new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                                  permissions=["camera"])
        context.set_default_timeout(30000)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(self.site.url + "/login/index.php")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#loginbtn")
        page.wait_for_load_state()
        assert "/login/" not in page.url, f"{username} could not log in: {page.url}\n{page.inner_text('body')[:500]}"
        return page

    def shot(self, page, name, full_page=True):
        """Screenshot NN-name.png, and note any Moodle debugging output on the page."""
        self.step += 1
        path = SCREENSHOTS / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.screenshots.append(path.name)
        problems = debugging_output(page)
        if problems:
            self.debugging.append((path.name, problems))
        return path

    def close(self):
        for context in self.contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 (teardown goes on)
                pass
        for browser in self.browsers.values():
            try:
                browser.close()
            except Exception:  # noqa: BLE001
                pass
        if self.playwright:
            self.playwright.stop()
        if self.site:
            self.site.stop_web()
        if self.sidecar:
            self.sidecar.stop()


def debugging_output(page):
    """Moodle's debugging messages and PHP notices shown on the page, as text; empty when there are none."""
    found = [text for text in page.locator(".debuggingmessage, .notifytiny, .xdebug-error").all_inner_texts()]
    body = page.locator("body").inner_text()
    found += [line for line in body.splitlines() if DEBUGGING.search(line)]
    return found


def require(condition, message):
    if not condition:
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: the journeys need Debian's chromium")
    for photo in ("obama/obama.jpg", "kit_harington/john1.jpeg", "rose_leslie/img2.jpg"):
        require((FACES / photo).is_file(), f"the face photos are missing: no {FACES / photo}")
    for tool in ("php", "php-fpm8.2", "nginx", "psql", "pg_restore", "pdftoppm"):
        require(shutil.which(tool), f"{tool} is missing: the journeys need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the python package playwright is missing from the venv", pytrace=False)
    try:
        www = moodle_site.unpack_moodle()
    except moodle_site.MoodleUnavailable as error:
        pytest.fail(str(error), pytrace=False)

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    journey = Journey(tmp_path_factory.mktemp("journeys"))
    try:
        # 1. The webcam videos: the student's own face with an empty room between, and another person.
        journey.videos["student1"] = face_video.face_video(journey.tmp / "obama.y4m", FACES / "obama" / "obama.jpg",
                                                           face_seconds=4, empty_seconds=3, last_face_seconds=10)
        journey.videos["kit"] = face_video.write_y4m(
            journey.tmp / "kit.y4m", [(face_video.picture(FACES / "kit_harington" / "john1.jpeg"), 2)])

        journey.sidecar = LiveSidecar(journey.tmp / "sidecar", env={"PROCTORPY_ANALYSIS_WITH_SERVER": "true"}).start(60)
        journey.site = moodle_site.MoodleSite(www, free_port())
        try:
            journey.site.install()
        except moodle_site.MoodleUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        # Moodle's user tours would cover the pages the journeys look at.
        journey.psql("update mdl_tool_usertours_tours set enabled = 0")
        snippet = NGINX_DIRECT.read_text().replace("127.0.0.1:8765", f"127.0.0.1:{journey.sidecar.port}")
        journey.site.start_web(extra_locations=snippet)
        journey.playwright = sync_playwright().start()
        yield journey
    finally:
        journey.close()


# --- 1. The webcam videos ---------------------------------------------------------------------------

def test_face_videos_are_y4m_with_a_face_and_an_empty_room(journey):
    width, height, fps, frames = face_video.read_y4m(journey.videos["student1"])
    assert (width, height, fps) == (320, 240, 5)
    assert len(frames) == 17 * 5
    face, room = frames[0], frames[4 * 5 + 1]
    # The face frames are the photo; the room frames are not (the conversion round trip is close).
    photo = face_video.picture(FACES / "obama" / "obama.jpg")
    import numpy as np
    assert np.abs(face.astype(int) - np.asarray(photo, dtype=int)).mean() < 6
    assert np.abs(room.astype(int) - np.asarray(face_video.empty_room(), dtype=int)).mean() < 6
    _, _, _, kit = face_video.read_y4m(journey.videos["kit"])
    assert len(kit) == 10
    for path in journey.videos.values():
        assert path.stat().st_size < 10_000_000


# --- 2. The admin installs the previous release, then upgrades ---------------------------------------

def test_upgrade_from_the_previous_release_keeps_settings_and_data(journey):
    site, sidecar = journey.site, journey.sidecar
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", PREVIOUS_RELEASE]).returncode != 0:
        pytest.fail(f"commit {PREVIOUS_RELEASE} (the previous release of the plugin) is not in this repository: "
                    "the upgrade path cannot be tested", pytrace=False)
    old = journey.tmp / "previous"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE, "moodle_plugin/quizaccess_proctorpy"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "x", "-C", str(old)], input=archive, check=True)
    old_plugin = old / "moodle_plugin" / "quizaccess_proctorpy"
    site.install_plugin(old_plugin)
    assert journey.config()["version"] == str(plugin_version(old_plugin))

    site.set_config("sidecarurl", sidecar.url)
    site.set_config("secret", sidecar.secret)
    journey.ids = json.loads(journey.php(MAKE_COURSE, site.www, FACES).strip().splitlines()[-1])
    settings = {"intervalmin": 17, "intervalmax": 43, "imagewidth": 400, "identitycheck": "match", "threshold": 72,
                "retentiondays": 45}
    journey.cli("proctor", journey.ids["quiz"], json.dumps(settings))
    # Rose Leslie's attempt, its camshots forwarded by the old plugin, submitted; cron sends the finish.
    attempt_id = journey.cli("attempt", journey.ids["quiz"], "student4", FACES / "rose_leslie" / "img2.jpg", 2)["attempt"]
    journey.upgrade_attempt = attempt_id
    journey.attempts["student4"] = attempt_id
    site.cron()
    before = wait_for(lambda: (a := journey.attempt_json(attempt_id)) and a["attempt"].get("finished_at")
                      and all(s["status"] != "pending" for s in a["shots"]) and a,
                      60, "the old plugin's attempt to be finished and analysed in the sidecar")
    assert len(before["shots"]) == 2
    row_before, config_before = journey.quiz_row(), journey.config()
    assert {k: row_before[k] for k in settings} == settings and row_before["enabled"] == 1

    # The upgrade to the working tree, as an admin does it: the new code copied over the old, then
    # Site administration > Notifications: Moodle's plugins check and "Upgrade Moodle database now".
    new_version, old_version = plugin_version(PLUGIN), plugin_version(old_plugin)
    assert new_version > old_version, (
        f"the plugin's code changed since {PREVIOUS_RELEASE} but version.php still says {new_version}: Moodle would "
        "not see an upgrade (nor rebuild its class cache on a production site)")
    moodle_site.copy_plugin(site.www, PLUGIN)
    site.reload_php()
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(site.url + "/admin/index.php")
    # First the release notes and the environment check, then the plugins check.
    assert "Your server environment meets all minimum requirements" in page.inner_text("#page-content")
    journey.shot(page, "upgrade-environment")
    page.click("#page-content button:has-text('Continue'), #page-content input[value='Continue']")
    page.wait_for_selector("text=Plugins check")
    journey.shot(page, "upgrade-plugins-check")
    row = page.locator("tr", has_text="/mod/quiz/accessrule/proctorpy").first.inner_text()
    assert "Webcam proctoring (proctorpy)" in row and "To be upgraded" in row
    assert str(old_version) in row and str(new_version) in row
    page.click("button:has-text('Upgrade Moodle database now'), input[value='Upgrade Moodle database now']")
    page.wait_for_selector("text=Success", timeout=120000)
    journey.shot(page, "upgrade-success")
    page.click("button:has-text('Continue'), a:has-text('Continue'), input[value='Continue']")
    page.wait_for_load_state()
    if "upgradesettings.php" in page.url:
        journey.shot(page, "upgrade-new-settings")
        page.click("#adminsettings button[type=submit], #adminsettings input[type=submit]")
        page.wait_for_load_state()
    page.goto(site.url + "/admin/plugins.php?contribonly=1")
    row = page.locator("tr", has_text="Webcam proctoring (proctorpy)").first
    assert str(new_version) in row.inner_text()
    row.scroll_into_view_if_needed()
    journey.shot(page, "upgrade-plugins-overview", full_page=False)

    config_after = journey.config()
    assert config_after.pop("version") == str(plugin_version(PLUGIN))
    config_before.pop("version")
    assert {k: v for k, v in config_after.items() if k in config_before} == config_before
    assert journey.quiz_row() == row_before
    after = journey.attempt_json(attempt_id)
    assert [s["id"] for s in after["shots"]] == [s["id"] for s in before["shots"]]
    assert after["attempt"]["user_id"] == journey.ids["users"]["student4"]
