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

import numpy as np
import pytest
import requests

import moodle_site
from conftest import FACES, LiveSidecar, free_port
from sidecar.client import SidecarError
from sidecar.db import connect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "moodle"))
import face_video  # noqa: E402  (tests/moodle is not a package)

PLUGIN = moodle_site.PLUGIN
MAKE_COURSE = REPO / "tests" / "moodle" / "make_course.php"
QUIZ_CLI = REPO / "tests" / "moodle" / "quiz_cli.php"
NGINX_DIRECT = REPO / "deploy" / "nginx-direct-upload.conf"
SCREENSHOTS = REPO / "build" / "moodle-journeys"
# This module's own Moodle tree: hard links to the unpacked code (made in a second, no space taken), so that
# another test copying the plugin into the shared tree meanwhile (Moodle's PHPUnit, grunt) cannot change
# the plugin this site runs, in the middle of its upgrade say.
JOURNEY_WWW = REPO / ".cache" / "moodle-journeys" / "www"
FPM_LOG = moodle_site.RUN / "logs" / "php-fpm.log"
PHP_ERRORS = moodle_site.RUN / "logs" / "php-errors.log"
PREVIOUS_RELEASE = "3dbe533"  # the first commit whose plugin installs
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream"]
PASSWORD = "Test-pass-1"
# The webcam's photos, with where the face is (fractions of width and height) to frame it at 320x240.
OBAMA = (FACES / "obama" / "obama.jpg", (0.53, 0.24))
KIT = (FACES / "kit_harington" / "john2.jpeg", (0.6, 0.5))
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
        self.expected_log_lines = set()  # what PHP logged for a refusal the journeys asked for

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
    def browser(self, video, computer=None):
        """One Chromium per webcam video (the fake camera is chosen at launch), or per computer: two students
        in one browser would take the window's focus from each other."""
        key = computer or video
        if key not in self.browsers:
            self.browsers[key] = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={self.videos[video]}"])
        return self.browsers[key]

    def login(self, username, password=PASSWORD, video="student1", computer="staff"):
        context = self.browser(video, computer).new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
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
        if full_page:
            # Moodle's fixed navbar and drawers are drawn where the page is scrolled to.
            page.evaluate("window.scrollTo(0, 0)")
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


def private_moodle(www):
    """A hard-linked copy of Moodle's code for this module; the files the site writes are its own."""
    shutil.rmtree(JOURNEY_WWW, ignore_errors=True)
    JOURNEY_WWW.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(www), str(JOURNEY_WWW)], check=True)
    # write_config() rewrites config.php in place: through a link it would change the shared tree's.
    (JOURNEY_WWW / "config.php").unlink(missing_ok=True)
    shutil.rmtree(JOURNEY_WWW / moodle_site.PLUGIN_PATH, ignore_errors=True)
    return JOURNEY_WWW


def require(condition, message):
    if not condition:
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: the journeys need Debian's chromium")
    for photo in ("obama/obama.jpg", "biden/biden2.jpg", "kit_harington/john1.jpeg", "kit_harington/john2.jpeg",
                  "rose_leslie/img1.jpg", "rose_leslie/img2.jpg"):
        require((FACES / photo).is_file(), f"the face photos are missing: no {FACES / photo}")
    for tool in ("php", "php-fpm8.2", "nginx", "psql", "pg_restore", "pdftoppm"):
        require(shutil.which(tool), f"{tool} is missing: the journeys need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the python package playwright is missing from the venv", pytrace=False)
    try:
        www = private_moodle(moodle_site.unpack_moodle())
    except moodle_site.MoodleUnavailable as error:
        pytest.fail(str(error), pytrace=False)

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    journey = Journey(tmp_path_factory.mktemp("journeys"))
    try:
        # 1. The webcam videos: the student's own face with an empty room between, and another person.
        journey.videos["student1"] = face_video.face_video(journey.tmp / "obama.y4m", OBAMA[0], face_seconds=4,
                                                           empty_seconds=3, last_face_seconds=10, centre=OBAMA[1])
        # Another photo of Kit Harington than his profile picture (john1.jpeg).
        journey.videos["kit"] = face_video.write_y4m(journey.tmp / "kit.y4m", [(face_video.picture(*KIT), 2)])

        # Attempts here last half a minute: score them from 15 s on (the default asks for 60 s).
        journey.sidecar = LiveSidecar(journey.tmp / "sidecar", env={
            "PROCTORPY_ANALYSIS_WITH_SERVER": "true", "PROCTORPY_SCORING_MIN_DURATION": "15"}).start(60)
        journey.site = moodle_site.MoodleSite(www, free_port())
        try:
            journey.site.install()
        except moodle_site.MoodleUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        # Moodle's user tours would cover the pages the journeys look at.
        journey.psql("update mdl_tool_usertours_tours set enabled = 0")
        snippet = NGINX_DIRECT.read_text().replace("127.0.0.1:8765", f"127.0.0.1:{journey.sidecar.port}")
        journey.log_starts = {log: log.stat().st_size if log.exists() else 0 for log in (FPM_LOG, PHP_ERRORS)}
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
    photo = face_video.picture(*OBAMA)
    assert np.abs(face.astype(int) - np.asarray(photo, dtype=int)).mean() < 6
    assert np.abs(room.astype(int) - np.asarray(face_video.empty_room(), dtype=int)).mean() < 6
    # What the sidecar will see: one face in the face frames, none in the room.
    import face_recognition  # the sidecar's own face detector
    assert len(face_recognition.face_locations(face)) == 1
    assert face_recognition.face_locations(room) == []
    _, _, _, kit = face_video.read_y4m(journey.videos["kit"])
    assert len(kit) == 10 and len(face_recognition.face_locations(kit[0])) == 1
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
    # The course index and block drawers closed, so that full-page screenshots show the content.
    journey.psql("insert into mdl_user_preferences (userid, name, value) "
                 "select u.id, d.name, '0' from mdl_user u, (values ('drawer-open-index'), ('drawer-open-block')) d(name) "
                 "where u.deleted = 0 on conflict (userid, name) do update set value = '0'")
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
    # The quiz keeps its settings, and gains those of the new release at their defaults: alerts on.
    assert journey.quiz_row() == {**row_before, "alerts": 1}
    after = journey.attempt_json(attempt_id)
    assert [s["id"] for s in after["shots"]] == [s["id"] for s in before["shots"]]
    assert after["attempt"]["user_id"] == journey.ids["users"]["student4"]


# --- 3. The admin configures the plugin, tests the connection, opens the console ---------------------

def test_admin_saves_settings_tests_connection_and_opens_the_console(journey):
    site, sidecar = journey.site, journey.sidecar
    # A wrong secret first: Test connection names the problem.
    site.set_config("secret", "not-the-sidecars-secret")
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(f"{site.url}/mod/quiz/accessrule/proctorpy/testconnection.php")
    problem = page.locator("#page-content .alert-danger").first.inner_text()
    assert "refuses the signature" in problem and sidecar.url in problem, problem
    journey.shot(page, "admin-test-connection-wrong-secret")

    page.goto(f"{site.url}/admin/settings.php?section={SECTION}")
    assert page.locator("h2", has_text="Webcam proctoring (proctorpy)").first.is_visible()
    page.fill("#id_s_quizaccess_proctorpy_sidecarurl", sidecar.url)
    # The secret is a password field behind Moodle's "click to edit" unmask widget.
    secret = page.locator("#id_s_quizaccess_proctorpy_secret")
    if not secret.is_visible():
        page.locator("[data-passwordunmask='edit'][data-target='id_s_quizaccess_proctorpy_secret'],"
                     " #admin-secret [data-passwordunmask='edit']").first.click()
    secret.fill(sidecar.secret)
    assert page.is_checked("#id_s_quizaccess_proctorpy_bypasscurlsecurity")
    journey.shot(page, "admin-settings-filled")
    page.click("#adminsettings button[type=submit]")
    page.wait_for_load_state()
    assert "Changes saved" in page.inner_text("#page-content")
    journey.shot(page, "admin-settings-saved")
    config = journey.config()
    assert config["sidecarurl"] == sidecar.url and config["secret"] == sidecar.secret
    # Moodle's own HTTP security is left at its defaults: the plugin's bypass is what reaches the sidecar.
    assert journey.psql("select value from mdl_config where name = 'curlsecurityblockedhosts'") != ""

    page.click("#page-content a:has-text('Test connection')")
    page.wait_for_url("**/testconnection.php")
    answer = page.locator("#page-content .alert-success").first.inner_text()
    assert "Connected to the sidecar at " + sidecar.url in answer, answer
    assert page.locator("#page-content .alert-danger").count() == 0
    journey.shot(page, "admin-test-connection-green")

    # The console, from Moodle: a signed single sign-on link that opens in a new tab.
    page.goto(f"{site.url}/admin/settings.php?section={SECTION}")
    with page.context.expect_page() as opened:
        page.click("#page-content a:has-text('Open the sidecar console')")
    console = opened.value
    console.wait_for_url(f"{sidecar.url}/console/")
    assert console.locator("h1").first.inner_text() == "Storage"
    assert "Admin User" in console.locator("header").inner_text()
    journey.shot(console, "admin-console-dashboard")


# --- 4. The teacher turns proctoring on in the quiz settings ----------------------------------------

def open_quiz_settings(page, journey):
    page.goto(f"{journey.site.url}/course/modedit.php?update={journey.ids['cmid']}")
    # The plugin's section of the form starts collapsed.
    page.locator("#id_proctorpyheader .fheader, a[href='#id_proctorpyheadercontainer']").first.click()
    page.wait_for_selector("#id_proctorpy_enabled", state="visible")


def test_teacher_turns_proctoring_on_in_the_quiz_form(journey):
    page = journey.login("teacher")
    open_quiz_settings(page, journey)
    page.select_option("#id_proctorpy_enabled", "1")
    for name, value in QUIZ_FORM.items():
        if name == "identitycheck":
            page.select_option(f"#id_proctorpy_{name}", value)
        else:
            page.fill(f"#id_proctorpy_{name}", value)
    page.locator("#id_proctorpyheader").scroll_into_view_if_needed()
    journey.shot(page, "teacher-quiz-settings")
    page.click("#id_submitbutton")  # Save and display
    page.wait_for_url("**/mod/quiz/view.php?id=*")
    journey.shot(page, "teacher-quiz-page")
    row = journey.quiz_row()
    assert row["enabled"] == 1
    assert {k: str(row[k]) for k in QUIZ_FORM} == QUIZ_FORM
    assert page.locator("a:has-text('View Proctoring Report')").is_visible()


# --- 5. Students take the quiz -----------------------------------------------------------------------

# Holds the camera back on the quiz page until the test lets it go, to see the start button wait for it.
HOLD_CAMERA = """
if (location.pathname.endsWith('/mod/quiz/view.php')) {
    window.proctorpyHold = true;
    const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
        while (window.proctorpyHold) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return open(constraints);
    };
}
"""


def attempt_shots(journey, attempt_id):
    return [s for s in journey.attempt_json(attempt_id)["shots"] if s["kind"] == "attempt"]


def nginx_log():
    path = moodle_site.RUN / "logs" / "nginx-access.log"
    return path.read_text() if path.exists() else ""


def start_attempt(journey, username, video, name, computer=None):
    """Log in, pass the consent and camera check and the identity check; returns (page, attempt id)."""
    page = journey.login(username, video=video, computer=computer or username)
    page.add_init_script(HOLD_CAMERA)
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={journey.ids['cmid']}")
    # Moodle's preflight module has moved the form into its (hidden) dialogue and handles the button.
    page.wait_for_selector(".mod_quiz_preflight_popup [name=submitbutton]", state="attached")
    page.click("#page-content button:has-text('Attempt quiz')")
    dialog = page.locator(".mod_quiz_preflight_popup")
    start = dialog.locator("[name=submitbutton]")
    start.wait_for(state="visible")
    status = dialog.locator("[data-region=camerastatus]")
    # No frame yet: the start button waits.
    assert start.is_disabled()
    assert "alert-success" not in status.get_attribute("class")
    journey.shot(page, f"{name}-consent-camera-waiting", full_page=False)
    page.evaluate("window.proctorpyHold = false")
    page.wait_for_function("document.querySelector('.mod_quiz_preflight_popup [name=submitbutton]').disabled === false")
    assert "alert-success" in status.get_attribute("class")
    wait_for(lambda: page.evaluate("document.querySelector('[data-region=preview]').videoWidth") > 0, 10,
             "the preview to show the camera")
    dialog.locator("[name=proctorpy_consent]").check()
    journey.shot(page, f"{name}-consent-camera-ready", full_page=False)
    start.click()
    # The attempt exists now, but Moodle's attempt page sends the student back to the pre-flight check until the
    # identity step has ended on the server (a face must be seen): take photos until one passes.
    page.wait_for_url("**/mod/quiz/startattempt.php*")
    identity = wait_for_identity_step(page)
    journey.shot(page, f"{name}-identity-check", full_page=False)
    deadline = time.time() + 60
    while not take_identity_photo(page) and time.time() < deadline:
        pass
    message = identity.locator("[data-region=message]")
    if "alert-success" not in message.get_attribute("class"):
        journey.shot(page, f"{name}-identity-refused", full_page=False)
        pytest.fail("the identity check did not pass within a minute: " + message.inner_text())
    journey.shot(page, f"{name}-identity-passed", full_page=False)
    page.click("#mod_quiz_preflight_form [name=submitbutton]")
    page.wait_for_url("**/mod/quiz/attempt.php*")
    attempt_id = int(re.search(r"[?&]attempt=(\d+)", page.url).group(1))
    journey.attempts[username] = attempt_id
    return page, attempt_id


def wait_for_identity_step(page):
    """The identity step of the pre-flight form, once its camera shows a frame; returns its region."""
    identity = page.locator("[data-region=quizaccess_proctorpy-identity]")
    identity.wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-region=preview]').videoWidth > 0")
    page.wait_for_function("!document.querySelector('[data-action=takephoto]').disabled")
    return identity


def take_identity_photo(page):
    """Take an identity photo and wait for the answer; True when it passed."""
    page.click("[data-action=takephoto]")
    page.wait_for_function("""() => {
        const message = document.querySelector('[data-region=quizaccess_proctorpy-identity] [data-region=message]');
        return message.classList.contains('alert-success') || !document.querySelector('[data-action=takephoto]').disabled;
    }""", timeout=30000)
    return "alert-success" in page.locator("[data-region=quizaccess_proctorpy-identity] [data-region=message]"
                                           ).get_attribute("class")


def answer(page, value):
    page.locator(".que.truefalse input[type=radio][value='%s']" % value).first.check()


def next_page(page):
    page.click("#mod_quiz-next-nav")
    page.wait_for_load_state()


def submit_attempt(journey, page, name):
    next_page(page)  # the last page's "Finish attempt ..." goes to the summary
    page.wait_for_url("**/mod/quiz/summary.php*")
    page.click("#page-content button:has-text('Submit all and finish')")
    page.locator(".modal-dialog .modal-footer button:has-text('Submit all and finish')").click()
    page.wait_for_url("**/mod/quiz/review.php*")
    journey.shot(page, f"{name}-review")
    page.context.close()


def test_student_takes_the_quiz_forwarded_through_moodle(journey):
    assert journey.config().get("uploadmode", "forwarded") == "forwarded"
    log_start = len(nginx_log())
    page, attempt_id = start_attempt(journey, "student1", "student1", "student1")
    answer(page, 1)
    indicator = page.locator("[data-region=quizaccess_proctorpy-indicator]")
    assert indicator.get_attribute("data-state") == "on"
    journey.shot(page, "student1-question-1", full_page=False)
    next_page(page)
    answer(page, 0)
    # Leaving the page for a moment: the window loses focus, the tab is hidden, then both come back.
    page.evaluate("""() => {
        window.dispatchEvent(new Event('blur'));
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
        window.dispatchEvent(new Event('focus'));
    }""")
    wait_for(lambda: len(attempt_shots(journey, attempt_id)) >= 3, 60, "three camshots of student1's attempt")
    events = {e["type"] for e in journey.attempt_json(attempt_id)["events"]}
    assert {"focus_lost", "focus_back", "tab_hidden", "tab_visible"} <= events, events
    journey.shot(page, "student1-question-2", full_page=False)
    submit_attempt(journey, page, "student1")

    # Forwarded: every camshot went through Moodle's web services, none through the direct path.
    log = nginx_log()[log_start:]
    assert "quizaccess_proctorpy_upload_camshot" in log
    assert "/proctorpy/api/v1/direct/" not in log
    shots = wait_for(lambda: (s := attempt_shots(journey, attempt_id)) and all(x["status"] != "pending" for x in s)
                     and s, 60, "student1's camshots to be analysed")
    assert {s["width"] for s in shots} == {320}
    assert any(s["status"] == "ok" for s in shots), shots
    # The camera restarts the video on each page: its first camshot there, 5 to 6 s in, sees the empty room.
    assert any(s["status"] == "no_face" for s in shots), shots
    identity = [s for s in journey.attempt_json(attempt_id)["shots"] if s["kind"] == "identity"]
    assert identity, "the identity photo is stored with the attempt"


def test_students_take_the_quiz_direct_one_in_anothers_place(journey):
    site = journey.site
    site.set_config("uploadmode", "direct")
    site.set_config("publicpath", "/proctorpy")
    # The admin's Test connection now checks the public path too.
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(f"{site.url}/mod/quiz/accessrule/proctorpy/testconnection.php")
    answers = page.locator("#page-content .alert-success").all_inner_texts()
    assert any("Direct upload: browsers reach the sidecar" in a for a in answers), answers
    journey.shot(page, "admin-test-connection-direct")
    page.context.close()

    log_start = len(nginx_log())
    # Kit Harington takes his own attempt; Joe Biden's attempt is taken by Kit Harington too.
    kit, kit_attempt = start_attempt(journey, "student3", "kit", "student3")
    answer(kit, 1)
    next_page(kit)
    answer(kit, 1)
    substitute, substitute_attempt = start_attempt(journey, "student2", "kit", "student2-substitute",
                                                  computer="substitute")
    answer(substitute, 0)
    next_page(substitute)
    answer(substitute, 0)
    wait_for(lambda: len(attempt_shots(journey, kit_attempt)) >= 3 and len(attempt_shots(journey, substitute_attempt)) >= 3,
             60, "three camshots of each direct attempt")
    journey.shot(kit, "student3-direct-question-2", full_page=False)
    journey.shot(substitute, "student2-substitute-question-2", full_page=False)
    submit_attempt(journey, kit, "student3")
    submit_attempt(journey, substitute, "student2")

    # Direct: the camshots came through nginx's public path, not through Moodle.
    log = nginx_log()[log_start:]
    direct_posts = [line for line in log.splitlines() if "POST /proctorpy/api/v1/direct/camshots" in line]
    assert len(direct_posts) >= 6, log[-3000:]
    assert all('" 201 ' in line or '" 200 ' in line for line in direct_posts), direct_posts
    assert "quizaccess_proctorpy_upload_camshot" not in log

    # The substitute is seen: Joe Biden's camshots show another student of the quiz (or not him).
    shots = wait_for(lambda: (s := attempt_shots(journey, substitute_attempt)) and all(x["status"] != "pending" for x in s)
                     and s, 60, "the substitute's camshots to be analysed")
    kit_id = journey.ids["users"]["student3"]
    assert all(s["status"] == "mismatch" or s["matched_user_id"] == kit_id for s in shots), shots
    assert any(s["matched_user_id"] == kit_id for s in shots), shots
    own = wait_for(lambda: (s := attempt_shots(journey, kit_attempt)) and all(x["status"] != "pending" for x in s)
                   and s, 60, "Kit Harington's camshots to be analysed")
    assert all(s["status"] == "ok" and s["matched_user_id"] is None for s in own), own

    # Moodle's cron tells the sidecar that the attempts are finished.
    site.cron()
    for username in ("student1", "student2", "student3"):
        attempt_id = journey.attempts[username]
        wait_for(lambda: journey.attempt_json(attempt_id)["attempt"]["finished_at"], 30, f"{username}'s attempt finished")
    score = journey.attempt_json(substitute_attempt)["score"]
    assert score and score["flagged"], score
    # Kit Harington stayed on the quiz's pages, alone, all along: going from one page of the quiz to the
    # next is not leaving the tab, and his attempt is not flagged.
    honest = journey.attempt_json(kit_attempt)
    assert [e["type"] for e in honest["events"] if e["type"] in ("tab_hidden", "focus_lost")] == [], honest["events"]
    assert honest["score"]["value"] is not None and not honest["score"]["flagged"], honest["score"]


# --- 6. The teachers read the reports ----------------------------------------------------------------

STUDENTS = {"student1": "Barack Obama", "student2": "Joe Biden", "student3": "Kit Harington", "student4": "Rose Leslie"}


def images_loaded(page):
    """Every <img> of the page loaded (lazy ones scrolled into view first): the sources that did not."""
    for image in page.locator("#region-main img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function("Array.from(document.querySelectorAll('#region-main img')).every((i) => i.complete)")
    return page.evaluate("Array.from(document.querySelectorAll('#region-main img'))"
                         ".filter((i) => !(i.naturalWidth > 0)).map((i) => i.getAttribute('src'))")


def overview_fits(page):
    """Whether the overview's last column ends inside the content column, or the table scrolls in a box that does."""
    return page.evaluate("""() => {
        const main = document.querySelector('#region-main').getBoundingClientRect();
        const last = document.querySelector('.quizaccess_proctorpy-fragment table tr > :last-child').getBoundingClientRect();
        if (last.right <= main.right + 1) {
            return true;
        }
        for (let box = document.querySelector('.quizaccess_proctorpy-fragment table').parentElement; box && box !== document.body;
                box = box.parentElement) {
            const overflow = getComputedStyle(box).overflowX;
            if ((overflow === 'auto' || overflow === 'scroll') && box.scrollWidth > box.clientWidth) {
                return box.getBoundingClientRect().right <= main.right + 1;
            }
        }
        return false;
    }""")


def check_overview_layout(journey, page, name):
    """The overview fits the content column or scrolls inside it; when it scrolls, a screenshot of its right end."""
    assert overview_fits(page), "the overview table runs out of the content column and is not in a scroll box"
    if page.evaluate("(() => { const box = document.querySelector('.quizaccess_proctorpy-fragment table').parentElement;"
                     " return box.scrollWidth > box.clientWidth; })()"):
        page.evaluate("document.querySelector('.quizaccess_proctorpy-fragment table').parentElement.scrollLeft = 10000")
        journey.shot(page, f"{name}-scrolled-right")


def report_url(journey, attempt_id=None):
    url = f"{journey.site.url}/mod/quiz/accessrule/proctorpy/report.php?cmid={journey.ids['cmid']}"
    return url + (f"&attempt={attempt_id}" if attempt_id else "")


def test_teacher_reads_the_overview_and_every_attempt_report(journey):
    page = journey.login("teacher")
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={journey.ids['cmid']}")
    page.click("a:has-text('View Proctoring Report')")
    page.wait_for_url("**/accessrule/proctorpy/report.php?cmid=*")
    journey.shot(page, "teacher-overview")
    assert debugging_output(page) == []
    table = page.locator(".quizaccess_proctorpy-fragment table")
    rows = table.locator("tbody tr")
    assert rows.count() == 4, table.inner_text()
    text = {name: rows.filter(has_text=name).first.inner_text() for name in STUDENTS.values()}
    assert "flagged" in text["Joe Biden"], text["Joe Biden"]
    scores = {name: rows.filter(has_text=name).first.locator(".ppo-score").inner_text().strip() for name in STUDENTS.values()}
    assert all(re.fullmatch(r"\d+", scores[name]) for name in ("Barack Obama", "Kit Harington", "Joe Biden")), scores
    assert scores["Joe Biden"] == "0" and scores["Kit Harington"] == "100", scores
    check_overview_layout(journey, page, "teacher-overview")

    # The CSV: one row per attempt.
    with page.expect_download() as download:
        page.click("a:has-text('Download CSV')")
    rows_csv = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows_csv) == 4, rows_csv
    assert {str(a) for a in journey.attempts.values()} <= {v for row in rows_csv for v in row.values()}

    broken_by_attempt = {}
    for username, attempt_id in journey.attempts.items():
        page.goto(report_url(journey, attempt_id))
        assert STUDENTS[username] in page.inner_text("#region-main")
        assert debugging_output(page) == [], debugging_output(page)
        broken = images_loaded(page)
        journey.shot(page, f"teacher-report-{username}")
        if broken:
            broken_by_attempt[username] = broken
        assert page.locator(".quizaccess_proctorpy-fragment .ppr-refs img").count() >= 1, \
            f"no reference photo on {username}'s report"
    assert broken_by_attempt == {}, f"images that did not load on the attempt reports: {broken_by_attempt}"


def test_teacher_downloads_the_pdf_and_reviews_attempts(journey):
    page = journey.login("teacher")
    substitute = journey.attempts["student2"]
    page.goto(report_url(journey, substitute))
    with page.expect_download() as download:
        page.click("a:has-text('Download PDF')")
    pdf = journey.tmp / "substitute.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(journey.tmp / "page")],
                   check=True, capture_output=True)
    assert list(journey.tmp.glob("page*.png")), "pdftoppm rendered no page"

    for username, conclusion, comment in (("student2", "rejected", "Kit Harington on camera, not Joe Biden."),
                                          ("student1", "accepted", "Left the desk for a moment; fine.")):
        page.goto(report_url(journey, journey.attempts[username]))
        page.check(f"input[name=conclusion][value={conclusion}]")
        page.fill("#quizaccess_proctorpy-comment", comment)
        page.click("form button:has-text('Save')")
        page.wait_for_load_state()
        assert "The review conclusion was saved." in page.inner_text("#page-content")
        review = page.locator(".quizaccess_proctorpy-fragment .ppr-review")
        assert comment in review.inner_text()
        journey.shot(page, f"teacher-review-{username}-{conclusion}")
        assert journey.attempt_json(journey.attempts[username])["review"]["conclusion"] == conclusion

    page.goto(report_url(journey))
    row = page.locator(".quizaccess_proctorpy-fragment tbody tr", has_text="Joe Biden").first.inner_text()
    assert "rejected" in row
    journey.shot(page, "teacher-overview-reviewed")
    check_overview_layout(journey, page, "teacher-overview-reviewed")


def test_non_editing_teacher_reads_the_reports(journey):
    page = journey.login("nonediting")
    page.goto(report_url(journey))
    assert page.locator(".quizaccess_proctorpy-fragment tbody tr").count() == 4
    assert debugging_output(page) == []
    journey.shot(page, "nonediting-overview")
    page.goto(report_url(journey, journey.attempts["student2"]))
    assert "Joe Biden" in page.inner_text("#region-main")
    assert images_loaded(page) == []
    # Reading only: no review form, no PDF (the images) for a non-editing teacher.
    assert page.locator("input[name=conclusion]").count() == 0
    assert page.locator("a:has-text('Download PDF')").count() == 0
    journey.shot(page, "nonediting-report-student2")


# --- 7. Privacy requests -----------------------------------------------------------------------------

def sidecar_user_data(journey, user_id):
    """The sidecar's privacy export of a user as a ZipFile, or None when it holds nothing about them."""
    try:
        status, body = journey.sidecar.client.request("GET", f"/api/v1/users/{user_id}/data")
    except SidecarError as error:
        assert error.status == 404, error
        return None
    return zipfile.ZipFile(io.BytesIO(body))


def test_privacy_export_and_delete_reach_the_sidecar(journey):
    # Export Barack Obama's data through Moodle's privacy API: the plugin's part holds the sidecar's archive.
    exported = journey.cli("privacy", "student1", "export")
    assert exported["contexts"], "the privacy API found no context of the plugin for student1"
    with zipfile.ZipFile(exported["zip"]) as outer:
        inner_names = [n for n in outer.namelist() if n.endswith("proctoring-data.zip")]
        assert inner_names, outer.namelist()
        inner = zipfile.ZipFile(io.BytesIO(outer.read(inner_names[0])))
    names = inner.namelist()
    assert "user.json" in names and "attempts.csv" in names, names
    assert str(journey.attempts["student1"]) in inner.read("attempts.csv").decode()
    assert sum(n.lower().endswith((".png", ".jpg")) for n in names) >= 3, names

    # Delete Joe Biden's: afterwards the sidecar holds nothing about him.
    biden = journey.ids["users"]["student2"]
    assert sidecar_user_data(journey, biden) is not None
    deleted = journey.cli("privacy", "student2", "delete")
    assert deleted["deleted"], deleted
    with pytest.raises(SidecarError) as gone:
        journey.attempt_json(journey.attempts["student2"])
    assert gone.value.status == 404
    left = sidecar_user_data(journey, biden)
    assert left is None, f"the sidecar still holds data of the deleted user: {left.namelist()}"
    # The others' data stays.
    assert journey.attempt_json(journey.attempts["student1"])["shots"]


# --- 7b. A privacy request for someone the sidecar never saw -----------------------------------------

def test_privacy_export_and_delete_for_a_user_the_sidecar_never_saw(journey):
    # The teacher previews the quiz: an attempt in Moodle, exempt from proctoring, so unknown to the sidecar.
    journey.cli("attempt", journey.ids["quiz"], "teacher", OBAMA[0], 0)
    teacher = journey.ids["users"]["teacher"]
    assert sidecar_user_data(journey, teacher) is None
    exported = journey.cli("privacy", "teacher", "export")
    assert exported["contexts"], "the privacy API found no context of the plugin for the teacher's preview"
    assert exported["zip"]
    journey.cli("privacy", "teacher", "delete")


# --- 7c. With "face must match the profile photo", a substitute is stopped at the start ------------------

def test_identity_match_stops_a_substitute_until_a_teacher_lets_the_attempt_go_on(journey):
    settings = {k: v for k, v in journey.quiz_row().items()
                if k in ("intervalmin", "intervalmax", "imagewidth", "threshold", "retentiondays")}
    journey.cli("proctor", journey.ids["quiz"], json.dumps({**settings, "identitycheck": "match"}))
    # Kit Harington sits down at Rose Leslie's computer.
    page = journey.login("student4", video="kit", computer="student4")
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={journey.ids['cmid']}")
    page.wait_for_selector(".mod_quiz_preflight_popup [name=submitbutton]", state="attached")
    page.click("#page-content button:has-text('Attempt quiz')")
    dialog = page.locator(".mod_quiz_preflight_popup")
    dialog.locator("[name=proctorpy_consent]").check()
    page.wait_for_function("document.querySelector('.mod_quiz_preflight_popup [name=submitbutton]').disabled === false")
    dialog.locator("[name=submitbutton]").click()
    page.wait_for_url("**/mod/quiz/startattempt.php*")
    attempt_id = int(journey.psql(f"select id from mdl_quiz_attempts where quiz = {journey.ids['quiz']} and userid = "
                                  f"{journey.ids['users']['student4']} and state = 'inprogress'"))
    identity = wait_for_identity_step(page)
    assert not take_identity_photo(page)
    message = identity.locator("[data-region=message]")
    assert "does not match your profile photo" in message.inner_text()
    assert "ask your teacher" in message.inner_text()
    journey.shot(page, "student4-substitute-identity-refused", full_page=False)
    shots = journey.attempt_json(attempt_id)["shots"]
    assert [s["kind"] for s in shots] == ["identity"] and shots[0]["status"] == "mismatch", shots
    assert shots[0]["matched_user_id"] == journey.ids["users"]["student3"], shots

    # The server decides: the attempt page sends him back, and the form refuses to start without a pass.
    page.goto(f"{journey.site.url}/mod/quiz/attempt.php?attempt={attempt_id}")
    page.wait_for_url("**/mod/quiz/startattempt.php*")
    assert page.locator(".que").count() == 0
    wait_for_identity_step(page)
    page.click("#mod_quiz_preflight_form [name=submitbutton]")
    page.wait_for_load_state()
    assert "has not been confirmed yet" in page.inner_text("#mod_quiz_preflight_form")
    assert page.locator(".que").count() == 0
    journey.shot(page, "student4-substitute-start-refused")
    # Blocking the check in the browser gets him nowhere either.
    page.route("**/lib/ajax/service.php*", lambda route: route.abort()
               if "quizaccess_proctorpy_check_identity" in (route.request.post_data or "") else route.continue_())
    wait_for_identity_step(page)
    assert not take_identity_photo(page)
    assert "could not be checked" in identity.locator("[data-region=message]").inner_text()
    page.click("#mod_quiz_preflight_form [name=submitbutton]")
    page.wait_for_load_state()
    assert "/mod/quiz/attempt.php" not in page.url and page.locator(".que").count() == 0
    page.unroute("**/lib/ajax/service.php*")

    # The teacher sees who waits at the identity check and lets the attempt go on, which the log records.
    teacher = journey.login("teacher")
    teacher.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/report.php?cmid={journey.ids['cmid']}")
    waiting = teacher.locator(".alert-warning", has_text="Waiting at the identity check")
    assert STUDENTS["student4"] in waiting.inner_text()
    journey.shot(teacher, "teacher-overview-waiting-at-identity-check")
    waiting.locator(f"a:has-text('{STUDENTS['student4']}')").click()
    teacher.wait_for_url(f"**attempt={attempt_id}*")
    state = teacher.locator("[data-region=identitystate]")
    assert "waits at the identity check" in state.inner_text()
    assert images_loaded(teacher) == []
    journey.shot(teacher, "teacher-report-identity-pending")
    teacher.once("dialog", lambda confirm: confirm.accept())
    state.locator("button:has-text('Let the attempt go on')").click()
    teacher.wait_for_selector(".alert-success:has-text('The attempt goes on')")
    assert "waived by" in teacher.locator("[data-region=identitystate]").inner_text()
    journey.shot(teacher, "teacher-report-identity-waived")
    logged = journey.psql("select userid || ' ' || relateduserid || ' ' || objectid from mdl_logstore_standard_log "
                          "where eventname = '\\quizaccess_proctorpy\\event\\identity_check_waived'")
    assert logged == f"{journey.ids['users']['teacher']} {journey.ids['users']['student4']} {attempt_id}", logged
    teacher.context.close()

    # His consent stands for this session: the questions show at once.
    page.goto(f"{journey.site.url}/mod/quiz/attempt.php?attempt={attempt_id}")
    page.wait_for_selector(".que")
    assert "/mod/quiz/attempt.php" in page.url
    journey.shot(page, "student4-attempt-after-waiver", full_page=False)
    page.context.close()


# --- 7d. The teacher watches the exam live -------------------------------------------------------------

LIVE_TILES = """Array.from(document.querySelectorAll('[data-region=tile]')).map((tile) => ({
    attempt: Number(tile.dataset.attemptid), camshot: tile.dataset.camshotid, problems: tile.dataset.problems,
    image: tile.querySelector('img') ? tile.querySelector('img').getAttribute('src') : ''}))"""


def live_tiles(page):
    """The live view's tiles in order: attempt id, camshot id, problems, thumbnail address."""
    return page.evaluate(LIVE_TILES)


def test_teacher_watches_the_exam_live(journey):
    settings = {k: v for k, v in journey.quiz_row().items()
                if k in ("intervalmin", "intervalmax", "imagewidth", "threshold", "retentiondays")}
    journey.cli("proctor", journey.ids["quiz"], json.dumps({**settings, "identitycheck": "face"}))
    waiting = int(journey.psql(f"select id from mdl_quiz_attempts where quiz = {journey.ids['quiz']} and userid = "
                               f"{journey.ids['users']['student4']} and state = 'inprogress'"))
    # Rose Leslie's attempt (7c) is in progress: the live view's button sits beside the report's.
    teacher = journey.login("teacher")
    teacher.goto(f"{journey.site.url}/mod/quiz/view.php?id={journey.ids['cmid']}")
    teacher.click("a:has-text('Watch the exam live')")
    teacher.wait_for_url("**/accessrule/proctorpy/live.php?cmid=*")
    assert debugging_output(teacher) == []
    assert "Live view" in teacher.title()
    # Opening the live view is in the sidecar's audit log with the teacher's name; its refreshes are not.
    audited = connect(journey.sidecar.database)
    try:
        opened = audited.execute("SELECT actor_name, selection FROM audit_log WHERE action = 'live_view'").fetchall()
    finally:
        audited.close()
    assert opened == [("Grace Hopper", json.dumps({"quiz_id": int(journey.ids["quiz"])}))], opened
    get_live = []
    teacher.on("request", lambda request: get_live.append(request.url)
               if "quizaccess_proctorpy_get_live" in request.url + (request.post_data or "") else None)
    # Gone if the page reloads.
    teacher.evaluate("window.proctorpyLoadedOnce = true")

    # Kit Harington starts a second attempt: his tile appears without a reload.
    first_attempt = journey.attempts["student3"]
    student, attempt_id = start_attempt(journey, "student3", "kit", "student3-live")
    journey.attempts["student3"] = first_attempt
    answer(student, 1)
    tile = f"[data-region=tile][data-attemptid='{attempt_id}']"
    teacher.wait_for_selector(tile, timeout=30000)
    assert {waiting, attempt_id} <= {t["attempt"] for t in live_tiles(teacher)}

    # Its camshot changes while the attempt runs, and the thumbnail with it.
    def shown_camshot():
        found = [t for t in live_tiles(teacher) if t["attempt"] == attempt_id]
        return found and found[0]["camshot"] and found[0]
    first = wait_for(shown_camshot, 60, "the first camshot on Kit Harington's tile")
    assert f"/image.php/{journey.ids['cmid']}/{attempt_id}/{first['camshot']}" in first["image"], first
    later = wait_for(lambda: (t := shown_camshot()) and t["camshot"] != first["camshot"] and t, 60,
                     "a later camshot on Kit Harington's tile")
    assert later["image"] != first["image"]
    assert images_loaded(teacher) == []

    # Rose Leslie's camera went quiet when her browser closed: her tile has a problem and comes first.
    def problems_by_attempt():
        return {t["attempt"]: t["problems"] for t in live_tiles(teacher)}
    wait_for(lambda: "camera_quiet" in problems_by_attempt().get(waiting, "") and problems_by_attempt()[attempt_id] == "",
             60, "Rose Leslie's quiet camera, and no problem with Kit Harington's attempt")
    assert live_tiles(teacher)[0]["attempt"] == waiting
    assert "ppl-problem" in teacher.locator(f"[data-region=tile][data-attemptid='{waiting}']").get_attribute("class")
    journey.shot(teacher, "teacher-live-view")

    # Flagged only: the tiles with a problem, and back.
    teacher.check("[data-action=flaggedonly]")
    wait_for(lambda: [t["attempt"] for t in live_tiles(teacher)] == [waiting], 30, "only Rose Leslie's tile")
    assert "flagged=1" in teacher.url
    journey.shot(teacher, "teacher-live-view-flagged-only")
    teacher.uncheck("[data-action=flaggedonly]")
    wait_for(lambda: {waiting, attempt_id} <= {t["attempt"] for t in live_tiles(teacher)}, 30, "every tile again")

    # Hidden, the view stops asking; shown again, it asks at once.
    teacher.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    wait_for(lambda: "paused" in teacher.inner_text("[data-region=status]"), 10, "the view to say it is paused")
    asked = len(get_live)
    teacher.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    wait_for(lambda: len(get_live) > asked, 3, "a refresh as soon as the view is shown again")
    assert teacher.inner_text("[data-region=status]") == ""
    assert teacher.evaluate("window.proctorpyLoadedOnce") is True, "the live view reloaded the page"
    assert debugging_output(teacher) == []
    next_page(student)
    answer(student, 1)
    submit_attempt(journey, student, "student3-live")
    teacher.context.close()

    # A student is refused the live view. Moodle logs the refusal (debugging is on): those lines, and no others,
    # are expected in PHP's logs.
    student = journey.login("student3", video="kit", computer="student3")
    log_sizes = {log: log.stat().st_size if log.exists() else 0 for log in (FPM_LOG, PHP_ERRORS)}
    student.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/live.php?cmid={journey.ids['cmid']}")
    assert "do not currently have permissions" in student.inner_text("body")
    assert student.locator("[data-region=tile]").count() == 0
    student.context.close()

    def logged_since():
        lines = []
        for log, size in log_sizes.items():
            if log.exists():
                with open(log, "rb") as f:
                    f.seek(size)
                    lines += f.read().decode(errors="replace").splitlines()
        return lines
    seen = []

    def logged_whole():
        # The refusal's lines are all there once they name live.php and a second look finds no more.
        lines = logged_since()
        whole = any("live.php" in line for line in lines) and seen[-1:] == [lines]
        seen.append(lines)
        return whole and lines
    refusal = wait_for(logged_whole, 10, "PHP's log of the refusal", interval=0.5)
    assert not [line for line in refusal if re.search(r"PHP (Warning|Notice|Deprecated|Fatal|Parse)", line)], refusal
    assert any("nopermissions" in line for line in refusal), refusal
    journey.expected_log_lines.update(refusal)


# --- 7e. A flagged attempt alerts the teachers; other tools read the reports through web services ---------

def rest(journey, token, function, **params):
    """One call of Moodle's REST server with a token: the decoded JSON answer."""
    response = requests.get(f"{journey.site.url}/webservice/rest/server.php", timeout=60, params={
        "wstoken": token, "wsfunction": function, "moodlewsrestformat": "json", **params})
    assert response.status_code == 200, response.text[:500]
    return response.json()


def log_size(log):
    return log.stat().st_size if log.exists() else 0


def log_text(log, start, end):
    """The text a log gained between two sizes."""
    if not log.exists():
        return ""
    with open(log, "rb") as f:
        f.seek(start)
        return f.read(max(0, end - start)).decode(errors="replace")


def test_flagged_attempt_notifies_the_teacher_and_web_services_answer_with_a_token(journey):
    # Barack Obama's second attempt: an hour with no camshot is far below the threshold when he submits it; the
    # alert goes at the next run of Moodle's cron.
    flagged = journey.cli("attempt", journey.ids["quiz"], "student1", OBAMA[0], 0, 60)["attempt"]
    score = journey.attempt_json(flagged)["score"]
    assert score["flagged"] and score["metrics"]["final"], score
    journey.site.cron()
    teacher_id = journey.ids["users"]["teacher"]
    # One notification per teacher who may read the report, none to anyone else; never twice for one attempt.
    about_it = ("select useridto || ' ' || contexturl from mdl_notifications where component = 'quizaccess_proctorpy' "
                f"and eventtype = 'attemptflagged' and customdata like '%\"attemptid\":{flagged}%' order by useridto")
    sent = journey.psql(about_it)
    recipients = sorted(int(line.split()[0]) for line in sent.splitlines())
    assert recipients == sorted([teacher_id, journey.ids["users"]["nonediting"]]), sent
    assert all(line.endswith(f"report.php?cmid={journey.ids['cmid']}&attempt={flagged}") for line in sent.splitlines()), sent
    journey.site.cron()
    assert journey.psql(about_it) == sent
    assert journey.psql(f"select count(*) from mdl_quizaccess_proctorpy_alert where attemptid = {flagged}") == "1"

    # The teacher sees it in Moodle's notifications: the bell's popover, then the notifications page.
    page = journey.login("teacher")
    page.goto(f"{journey.site.url}/my/")
    bell = page.locator("#nav-notification-popover-container")
    bell.locator("[data-region=popover-region-toggle]").click()
    subject = "Flagged attempt: Barack Obama"
    item = bell.locator("[data-region=notification-content-item-container]", has_text=subject).first
    item.wait_for(state="visible")
    assert "Midterm (proctored)" in item.inner_text() and "flagged" in item.inner_text().lower(), item.inner_text()
    journey.shot(page, "teacher-notification-popover", full_page=False)
    page.goto(f"{journey.site.url}/message/output/popup/notifications.php")
    area = page.locator("[data-region=notification-area]")
    area.locator("[data-region=notification-content-item-container]", has_text=subject).first.click()
    content = area.locator("[data-region=content-area]")
    wait_for(lambda: "below the quiz's threshold of 70" in content.inner_text(), 30,
             "the flagged attempt's notification on the notifications page")
    journey.shot(page, "teacher-notification-page")
    content.locator("a", has_text="Open the attempt's proctoring report").first.click()
    page.wait_for_url(f"**/accessrule/proctorpy/report.php?cmid={journey.ids['cmid']}&attempt={flagged}")
    assert "Barack Obama" in page.inner_text("#region-main")
    journey.shot(page, "teacher-report-from-notification")
    page.context.close()

    # The admin enables web services and REST, the service, and issues tokens: the teacher's, and a student's.
    token = journey.cli("wstoken", "teacher")["token"]
    student_token = journey.cli("wstoken", "student3")["token"]
    overview = rest(journey, token, "quizaccess_proctorpy_get_overview", cmid=journey.ids["cmid"])
    assert "exception" not in overview, overview
    rows = {row["attemptid"]: row for row in overview["attempts"]}
    assert flagged in rows and rows[flagged]["flagged"] and rows[flagged]["score"] == score["value"], overview
    first = journey.attempts["student1"]
    assert first in rows and rows[first]["shots"] >= 3, rows.get(first)
    assert {m["name"] for m in rows[first]["metrics"]} >= {"no_face", "camera_off", "focus_lost"}, rows[first]

    report = rest(journey, token, "quizaccess_proctorpy_get_attempt_report", cmid=journey.ids["cmid"], attemptid=first)
    assert "exception" not in report, report
    assert report["attempt"]["userid"] == journey.ids["users"]["student1"]
    assert report["score"]["scored"] and report["score"]["formula"].startswith("E = max(0, 100"), report["score"]
    assert {"focus_lost", "tab_hidden"} <= {e["type"] for e in report["events"]}, report["events"]
    shots = [s for s in report["camshots"] if s["kind"] == "attempt"]
    assert len(shots) >= 3 and {"ok", "no_face"} <= {s["verdict"] for s in shots}, shots
    # The sidecar's audit log has the teacher's read of that attempt, as for the report page.
    audited = connect(journey.sidecar.database)
    try:
        views = audited.execute("SELECT actor_id, selection FROM audit_log WHERE action = 'report_view' AND detail = "
                                "'web service'").fetchall()
    finally:
        audited.close()
    assert [(actor, json.loads(selection)["attempt_id"]) for actor, selection in views] == [(str(teacher_id), first)]
    thumb = requests.get(shots[0]["thumburl"], params={"token": token}, timeout=60)
    assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/png"), thumb.text[:300]
    assert thumb.content.startswith(b"\x89PNG")
    full = requests.get(shots[0]["imageurl"], params={"token": token}, timeout=60)
    assert full.status_code == 200 and len(full.content) > len(thumb.content), full.text[:300]
    (SCREENSHOTS / "web-service-overview.json").write_text(json.dumps(overview, indent=1))
    (SCREENSHOTS / "web-service-thumbnail.png").write_bytes(thumb.content)

    # A student's token: refused by both functions, and the image is not served. Moodle's exception handlers write
    # each refusal to PHP's error log (debugging is on), which php-fpm passes on as its workers' output: these four
    # are read here and section 8's check starts after them, so it is made here for what came before.
    logs = (FPM_LOG, PHP_ERRORS)
    marks = {log: log_size(log) for log in logs}
    earlier = [line for log in logs for line in log_text(log, journey.log_starts[log], marks[log]).splitlines()
               if log == PHP_ERRORS and line.strip() or "said into std" in line
               or re.search(r"PHP (Warning|Notice|Deprecated|Fatal|Parse)", line)]
    earlier = [line for line in earlier if line not in journey.expected_log_lines]
    assert earlier == [], "\n".join(earlier[:20])
    refused = rest(journey, student_token, "quizaccess_proctorpy_get_overview", cmid=journey.ids["cmid"])
    assert refused.get("errorcode") == "nopermissions", refused
    refused = rest(journey, student_token, "quizaccess_proctorpy_get_attempt_report", cmid=journey.ids["cmid"],
                   attemptid=first)
    assert refused.get("errorcode") == "nopermissions", refused
    image = requests.get(shots[0]["thumburl"], params={"token": student_token}, timeout=60)
    assert not image.content.startswith(b"\x89PNG"), image.status_code
    # And no token at all is no access.
    assert rest(journey, "0" * 32, "quizaccess_proctorpy_get_overview", cmid=journey.ids["cmid"]).get(
        "errorcode") == "invalidtoken"

    polled = {}

    def logged_refusals():
        """The refusals' log text, once all four are in and the logs did not grow since the last look (the rest of a
        message's lines may follow its first)."""
        sizes = {log: log_size(log) for log in logs}
        settled, polled["sizes"] = polled.get("sizes") == sizes, sizes
        text = "".join(log_text(log, marks[log], sizes[log]) for log in logs)
        return text if settled and len(re.findall(r"exception handler: ", text)) >= 4 else None

    logged = wait_for(logged_refusals, 30, "Moodle's log lines of the four refusals")
    handled = re.findall(r"(REST|Default) exception handler: (.*?) Debug:", logged)
    assert [kind for kind, _ in handled] == ["REST", "REST", "Default", "REST"], logged[:3000]
    assert all("permission" in message for _, message in handled[:3]), handled
    assert "Invalid token" in handled[3][1], handled
    assert not re.search(r"PHP (Warning|Notice|Deprecated|Fatal|Parse)", logged), logged[:3000]
    journey.log_starts.update({log: log_size(log) for log in logs})


# --- 8. No page showed Moodle's debugging output ------------------------------------------------------

# What the sidecar may refuse in these journeys: the wrong secret, Test connection's upload without a token,
# and the look-ups of what the privacy requests deleted.
EXPECTED_REFUSALS = {"bad_signature", "missing_token", "unknown_attempt", "unknown_user"}


def test_no_page_showed_debugging_output_and_no_log_has_errors(journey):
    # The check itself sees what Moodle prints.
    page = journey.browser("student1", "staff").new_page()
    page.set_content('<div class="debuggingmessage">Debug info: x</div><p><b>Notice</b>: Undefined variable $y in</p>')
    assert len(debugging_output(page)) == 3, debugging_output(page)
    page.close()
    assert len(journey.screenshots) >= 30, journey.screenshots
    assert journey.debugging == [], journey.debugging
    # PHP: nothing in its error log or said on stderr by php-fpm's workers (what AJAX calls and redirects
    # raise never shows on a page).
    def new_lines(log):
        if not log.exists():
            return []
        with open(log, "rb") as f:
            f.seek(journey.log_starts[log])
            return f.read().decode(errors="replace").splitlines()
    php_errors = [line for line in new_lines(FPM_LOG) if "said into std" in line or re.search(
        r"PHP (Warning|Notice|Deprecated|Fatal|Parse)", line)] + [line for line in new_lines(PHP_ERRORS) if line.strip()]
    php_errors = [line for line in php_errors if line not in journey.expected_log_lines]
    assert php_errors == [], "\n".join(php_errors[:20])
    # The sidecar: no failure, and no refusal beyond the expected ones.
    records = [json.loads(line) for line in journey.sidecar.log.read_text().splitlines() if line.startswith('{"at"')]
    assert records, "the sidecar logged no request"
    failures = [r for r in records if r["status"] >= 500]
    refused = [r for r in records if 400 <= r["status"] < 500 and r["error"] not in EXPECTED_REFUSALS]
    assert failures == [] and refused == [], failures + refused
    assert "Traceback" not in journey.sidecar.log.read_text()
