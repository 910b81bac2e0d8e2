"""What the users' journeys in a real Moodle share (tests/test_moodle_admin.py, _student.py, _teacher.py): a Moodle
(4.5.6, and 5.1.3 for the journeys marked every_moodle) on PostgreSQL behind php-fpm and nginx with the working
tree's plugin, a real sidecar analysing faces, headless Chromium whose webcam plays videos made from face photos, and
the steps the journeys take in it.

The fixtures (registered for the whole suite by tests/conftest.py) build what a test needs, once a session: the site,
the course, the students' finished attempts. So each test runs alone, and in any order: a test that changes what
others read (a quiz's settings, a student's data, the plugin's version) has a quiz, a student or a site of its own.
Every step leaves a screenshot in build/moodle-journeys/ (those of 5.1.3 in build/moodle-journeys/5.1.3/); the
session's end fails if any page showed Moodle's debugging output or a log has errors.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

import moodle_site
import nginx
from conftest import FACES, REPO, LiveSidecar, free_port
from sidecar.client import SidecarError, multipart

sys.path.insert(0, str(REPO / "tests" / "moodle"))
import face_video  # noqa: E402  (tests/moodle is not a package)

PLUGIN = moodle_site.PLUGIN
MAKE_COURSE = REPO / "tests" / "moodle" / "make_course.php"
QUIZ_CLI = REPO / "tests" / "moodle" / "quiz_cli.php"
SCREENSHOTS = REPO / "build" / "moodle-journeys"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream"]
PASSWORD = "Test-pass-1"
# The webcam's photos, with where the face is (fractions of width and height) to frame it at 320x240.
OBAMA = (FACES / "obama" / "obama.jpg", (0.53, 0.24))
KIT = (FACES / "kit_harington" / "john2.jpeg", (0.6, 0.5))
# The students' profile pictures (tests/moodle/make_course.php).
PROFILE_PHOTOS = {"student1": FACES / "obama" / "obama.jpg", "student2": FACES / "biden" / "biden2.jpg",
                  "student3": FACES / "kit_harington" / "john1.jpeg", "student4": FACES / "rose_leslie" / "img1.jpg"}
# Another photo of Rose Leslie than her profile picture, for the attempts sent without a browser.
ROSE = FACES / "rose_leslie" / "img2.jpg"
SECTION = "modsettingsquizcatproctorpy"
# The teacher's settings in the quiz form: a short interval so that a few camshots arrive quickly. No identity step:
# the journeys of the identity step (test_moodle_liveness.py, the substitute's) set it on quizzes of their own.
QUIZ_FORM = {"intervalmin": "5", "intervalmax": "6", "imagewidth": "320", "identitycheck": "none", "threshold": "70",
             "retentiondays": "30"}
STUDENTS = {"student1": "Barack Obama", "student2": "Joe Biden", "student3": "Kit Harington", "student4": "Rose Leslie"}
# What Moodle prints when debugging output reaches a page.
DEBUGGING = re.compile(r"(Notice|Warning|Deprecated|Fatal error|Parse error|Debug info|Stack trace|Coding error)"
                       r"( detected)?:", re.I)
PHP_PROBLEM = re.compile(r"PHP (Warning|Notice|Deprecated|Fatal|Parse)")
# Moodle's file cache store writes a file by renaming a temporary one into a folder that a purge may have removed
# meanwhile (the installer purges every cache while the browser still loads the last page's stylesheet): core's
# race, which loses nothing but that cache entry, not the plugin's doing.
CORE_CACHE_RACE = re.compile(r"PHP Warning: +rename\(\S+/cache/cachestore_file/\S+\): No such file or directory "
                             r"in \S+/cache/stores/file/lib\.php")
# What the sidecar may refuse in these journeys: the wrong secret, Test connection's upload without a token,
# and the look-ups of what the privacy requests deleted.
EXPECTED_REFUSALS = {"bad_signature", "missing_token", "unknown_attempt", "unknown_user"}
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


def require(condition, message):
    if not condition:
        pytest.fail(message, pytrace=False)


def plugin_version(folder):
    text = (folder / "version.php").read_text()
    return int(re.search(r"\$plugin->version\s*=\s*(\d+)", text).group(1))


def debugging_output(page):
    """Moodle's debugging messages and PHP notices shown on the page, as text; empty when there are none."""
    found = [text for text in page.locator(".debuggingmessage, .notifytiny, .xdebug-error").all_inner_texts()]
    body = page.locator("body").inner_text()
    found += [line for line in body.splitlines() if DEBUGGING.search(line)]
    return found


def log_size(log):
    return log.stat().st_size if log.exists() else 0


def log_text(log, start, end=None):
    """The text a log gained between two sizes (to its end without the second)."""
    if not log.exists():
        return ""
    with open(log, "rb") as f:
        f.seek(start)
        return f.read(-1 if end is None else max(0, end - start)).decode(errors="replace")


class Browsers:
    """Chromium with a fake webcam, and what the journeys' pages and servers showed: the screenshots, any debugging
    output, and the logs to read at the end."""

    def __init__(self, playwright, videos, folder):
        self.playwright = playwright
        self.videos = videos
        self.folder = folder  # where the screenshots go
        self.browsers = {}
        self.contexts = []
        self.step = 0
        self.screenshots = []
        self.debugging = []  # (screenshot, text) of every page that showed debugging output
        self.php_logs = {}  # PHP's logs of each site: where the journeys' part of them starts
        self.sidecar_logs = []
        self.expected_log_lines = set()  # what PHP logged for a refusal the journeys asked for

    def browser(self, video, computer=None):
        """One Chromium per webcam video (the fake camera is chosen at launch), or per computer: two students
        in one browser would take the window's focus from each other."""
        key = computer or video
        if key not in self.browsers:
            self.browsers[key] = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={self.videos[video]}"])
        return self.browsers[key]

    def new_context(self, video, computer):
        context = self.browser(video, computer).new_context(viewport={"width": 1280, "height": 900},
                                                            accept_downloads=True, permissions=["camera"])
        context.set_default_timeout(30000)
        self.contexts.append(context)
        return context

    def shot(self, page, name, full_page=True):
        """Screenshot NN-name.png, and note any Moodle debugging output on the page."""
        self.step += 1
        path = self.folder / f"{self.step:02d}-{name}.png"
        if full_page:
            # Moodle's fixed navbar and drawers are drawn where the page is scrolled to.
            page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=full_page)
        self.screenshots.append(path.name)
        problems = debugging_output(page)
        if problems:
            self.debugging.append((path.name, problems))
        return path

    def watch(self, site, sidecar):
        """Read a site's PHP logs from here on, and its sidecar's log, in the final check."""
        for log in (site.fpm_log, site.php_errors):
            self.php_logs[log] = log_size(log)
        self.sidecar_logs.append(sidecar.log)

    def php_log_problems(self):
        """What PHP's error log holds, or php-fpm's workers said on stderr, since the journeys began (or since
        skip_php_logs), besides the refusals the journeys asked for: AJAX calls and redirects never show on a page."""
        lines = []
        for log, start in self.php_logs.items():
            for line in log_text(log, start).splitlines():
                if log.name == "php-errors.log" and line.strip() or "said into std" in line or PHP_PROBLEM.search(line):
                    lines.append(line)
        return [line for line in lines if line not in self.expected_log_lines and not CORE_CACHE_RACE.search(line)]

    def skip_php_logs(self):
        """What PHP logged so far is read: the final check starts after it."""
        self.php_logs = {log: log_size(log) for log in self.php_logs}

    def sidecar_problems(self):
        """The sidecars' failures, refusals beyond the expected ones, and tracebacks."""
        problems = []
        for log in self.sidecar_logs:
            text = log.read_text() if log.exists() else ""
            records = [json.loads(line) for line in text.splitlines() if line.startswith('{"at"')]
            problems += [r for r in records if r["status"] >= 500
                         or 400 <= r["status"] < 500 and r["error"] not in EXPECTED_REFUSALS]
            problems += [f"a traceback in {log}"] if "Traceback" in text else []
        return problems

    def problems(self):
        """Everything the final check refuses: pages with debugging output, PHP's errors, the sidecars' failures."""
        return self.debugging + self.php_log_problems() + self.sidecar_problems()

    def close(self):
        for closable in self.contexts + list(self.browsers.values()):
            try:
                closable.close()
            except Exception:  # noqa: BLE001 (teardown goes on)
                pass


class Journey:
    """One Moodle site with its sidecar, seen through the browsers."""

    def __init__(self, browsers, site, sidecar, tmp, phpunit_autoload):
        self.browsers = browsers
        self.site = site
        self.sidecar = sidecar
        self.tmp = tmp
        self.phpunit_autoload = phpunit_autoload  # what make_course.php loads PHPUnit with

    def psql(self, sql):
        return self.site.psql(sql, self.site.dbname).strip()

    def php(self, *args, env=None):
        return self.site.php(*args, env=env).stdout

    def cli(self, *args):
        out = self.php(QUIZ_CLI, self.site.www, *args)
        return json.loads(out.strip().splitlines()[-1])

    def make_course(self, *args):
        """tests/moodle/make_course.php: the course, or (with args) a quiz or a student of its own; its ids."""
        made = self.php(MAKE_COURSE, self.site.www, FACES, *args,
                        env={"PROCTORPY_PHPUNIT_AUTOLOAD": self.phpunit_autoload})
        made = json.loads(made.strip().splitlines()[-1])
        # The course index and block drawers closed, so that full-page screenshots show the content.
        self.psql("insert into mdl_user_preferences (userid, name, value) select u.id, d.name, '0' from mdl_user u, "
                  "(values ('drawer-open-index'), ('drawer-open-block')) d(name) where u.deleted = 0 "
                  "on conflict (userid, name) do update set value = '0'")
        return made

    def proctored_quiz(self, name, **settings):
        """A quiz of its own in the course, proctored with the quiz form's settings (or these)."""
        quiz = self.make_course("quiz", name)
        self.cli("proctor", quiz["quiz"], json.dumps({**QUIZ_FORM, **settings}))
        return quiz

    def config(self):
        rows = self.psql("select name || '=' || coalesce(value, '') from mdl_config_plugins "
                         "where plugin = 'quizaccess_proctorpy' order by name")
        return dict(line.split("=", 1) for line in rows.splitlines())

    def quiz_row(self, quiz_id):
        row = self.psql("select row_to_json(p) from mdl_quizaccess_proctorpy p where quizid = %d" % quiz_id)
        return json.loads(row) if row else None

    def attempt_json(self, attempt_id):
        return self.sidecar.client.get_attempt(attempt_id)

    def attempt_shots(self, attempt_id):
        return [s for s in self.attempt_json(attempt_id)["shots"] if s["kind"] == "attempt"]

    def analysed_shots(self, attempt_id, whose):
        """The attempt's camshots once the sidecar has analysed all of them."""
        return wait_for(lambda: (s := self.attempt_shots(attempt_id)) and all(x["status"] != "pending" for x in s)
                        and s, 60, f"{whose} camshots to be analysed")

    def nginx_log(self):
        log = self.site.access_log
        return log.read_text() if log.exists() else ""

    def login(self, username, password=PASSWORD, video="student1", computer="staff"):
        page = self.browsers.new_context(video, computer).new_page()
        page.goto(self.site.url + "/login/index.php")
        for _ in range(2):
            page.fill("#username", username)
            page.fill("#password", password)
            page.click("#loginbtn")
            page.wait_for_load_state()
            # Moodle sometimes answers a first sign-in with "Your session has timed out", its login session lost;
            # a user signs in again, and so does the journey, once.
            if "/login/" not in page.url or "session has timed out" not in page.inner_text("body"):
                break
        assert "/login/" not in page.url, f"{username} could not log in: {page.url}\n{page.inner_text('body')[:500]}"
        return page

    def shot(self, page, name, full_page=True):
        return self.browsers.shot(page, name, full_page)

    def report_url(self, cmid, attempt_id=None):
        url = f"{self.site.url}/mod/quiz/accessrule/proctorpy/report.php?cmid={cmid}"
        return url + (f"&attempt={attempt_id}" if attempt_id else "")


def screenshots_folder(release):
    """Where a release's journeys leave their screenshots: the first release's in build/moodle-journeys/, the others' in
    a folder of their own below it."""
    if release is moodle_site.FIRST_RELEASE:
        return SCREENSHOTS
    return SCREENSHOTS / release.name


def private_moodle(www, tree):
    """A hard-linked copy of Moodle's code for one site (made in a second, no space taken), so that another test
    copying the plugin into the shared tree meanwhile (Moodle's PHPUnit, grunt) cannot change the plugin a site runs,
    in the middle of its upgrade say; the files the site writes are its own."""
    shutil.rmtree(tree, ignore_errors=True)
    tree.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(www), str(tree)], check=True)
    # write_config() rewrites config.php in place: through a link it would change the shared tree's.
    (tree / "config.php").unlink(missing_ok=True)
    shutil.rmtree(tree / moodle_site.plugin_path(tree), ignore_errors=True)
    return tree


def start_journey(browsers, tmp, release, phpunit_autoload, name=""):
    """A Moodle site of the release with no plugin yet, on its own code tree, database and port (the journeys' site,
    or one `name`d: the upgrade's), with a sidecar of its own (Moodle's attempt ids start at 1 on every site) behind
    the site's nginx as deploy/nginx-direct-upload.conf puts it."""
    try:
        www = private_moodle(moodle_site.unpack_moodle(release), release.cache / f"{name or 'journeys'}-www")
    except moodle_site.MoodleUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    # Attempts here last half a minute: score them from 15 s on (the default asks for 60 s). One web worker, whose
    # threads are plenty for a few browsers: the course fixture loads its face models before any attempt starts.
    sidecar = LiveSidecar(tmp / "sidecar", env={
        "PROCTORPY_ANALYSIS_WITH_SERVER": "true", "PROCTORPY_SCORING_MIN_DURATION": "15",
        "PROCTORPY_SERVER_WORKERS": "1",
        # The identity step's challenge is the one the face videos perform: coming closer to the camera.
        "PROCTORPY_IDENTITY_CHALLENGES": "closer"}).start(60)
    journey = Journey(browsers, moodle_site.MoodleSite(www, release, free_port(), name), sidecar, tmp, phpunit_autoload)
    try:
        journey.site.install()
        # Moodle's user tours would cover the pages the journeys look at.
        journey.psql("update mdl_tool_usertours_tours set enabled = 0")
        browsers.watch(journey.site, sidecar)
        journey.site.start_web(extra_locations=nginx.snippet(
            "nginx-direct-upload.conf", {"127.0.0.1:8765": f"127.0.0.1:{sidecar.port}"}))
    except BaseException as error:
        stop_journey(journey)
        if isinstance(error, moodle_site.MoodleUnavailable):
            pytest.fail(str(error), pytrace=False)
        raise
    return journey


def stop_journey(journey):
    journey.site.stop_web()
    journey.sidecar.stop()


# --- A student's attempt in the browser ---------------------------------------------------------------------

# True once the pre-flight dialogue's start button takes a click: the camera check has seen a frame.
START_ENABLED = "document.querySelector('.mod_quiz_preflight_popup [name=submitbutton]').disabled === false"


def open_preflight(journey, page, cmid):
    """Open the quiz and its pre-flight dialogue (consent and camera check) as a signed-in student; the dialogue,
    its start button shown."""
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={cmid}")
    # Moodle's preflight module has moved the form into its (hidden) dialogue and handles the button.
    page.wait_for_selector(".mod_quiz_preflight_popup [name=submitbutton]", state="attached")
    page.click("#page-content button:has-text('Attempt quiz')")
    dialog = page.locator(".mod_quiz_preflight_popup")
    dialog.locator("[name=submitbutton]").wait_for(state="visible")
    return dialog


def start_attempt(journey, cmid, username, video, name, computer=None, identity_step=False, browser=None):
    """Log in, pass the consent and camera check, and the identity check where the quiz has one (its challenge
    followed by the video); returns (page, attempt id). `browser`, if given, is called with the browser's context
    once logged in: what the browser does besides (sends Safe Exam Browser's headers, say)."""
    page = journey.login(username, video=video, computer=computer or username)
    if browser:
        browser(page.context)
    page.add_init_script(HOLD_CAMERA)
    dialog = open_preflight(journey, page, cmid)
    start = dialog.locator("[name=submitbutton]")
    status = dialog.locator("[data-region=camerastatus]")
    # No frame yet: the start button waits.
    assert start.is_disabled()
    assert "alert-success" not in status.get_attribute("class")
    journey.shot(page, f"{name}-consent-camera-waiting", full_page=False)
    page.evaluate("window.proctorpyHold = false")
    page.wait_for_function(START_ENABLED)
    assert "alert-success" in status.get_attribute("class")
    wait_for(lambda: page.evaluate("document.querySelector('[data-region=preview]').videoWidth") > 0, 10,
             "the preview to show the camera")
    dialog.locator("[name=proctorpy_consent]").check()
    journey.shot(page, f"{name}-consent-camera-ready", full_page=False)
    start.click()
    if not identity_step:
        page.wait_for_url("**/mod/quiz/attempt.php*")
        return page, int(re.search(r"[?&]attempt=(\d+)", page.url).group(1))
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
    return page, int(re.search(r"[?&]attempt=(\d+)", page.url).group(1))


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


def images_loaded(page):
    """Every <img> of the page loaded (lazy ones scrolled into view first): the sources that did not."""
    for image in page.locator("#region-main img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function("Array.from(document.querySelectorAll('#region-main img')).every((i) => i.complete)")
    return page.evaluate("Array.from(document.querySelectorAll('#region-main img'))"
                         ".filter((i) => !(i.naturalWidth > 0)).map((i) => i.getAttribute('src'))")


# --- The fixtures: what is expensive is made once a session, when a test first needs it ------------------------

@pytest.fixture(scope="session")
def face_videos(tmp_path_factory):
    """The webcam videos: the student's own face with an empty room between, and another person."""
    for photo in [*PROFILE_PHOTOS.values(), KIT[0], ROSE]:
        require(photo.is_file(), f"the face photos are missing: no {photo}")
    tmp = tmp_path_factory.mktemp("face-videos")
    return {"student1": face_video.face_video(tmp / "obama.y4m", OBAMA[0], face_seconds=4, empty_seconds=3,
                                              last_face_seconds=10, centre=OBAMA[1]),
            # Another photo of Kit Harington than his profile picture (john1.jpeg), coming closer to the camera as
            # the identity step's challenge asks.
            "kit": face_video.coming_closer_video(tmp / "kit.y4m", KIT[0]),
            # Barack Obama in another photo than his profile picture (obama.jpg), coming closer.
            "obama-closer": face_video.coming_closer_video(tmp / "obama-closer.y4m", FACES / "obama/obama1.jpg"),
            # Joe Biden's profile picture (biden2.jpg) held up to the camera.
            "biden-profile": face_video.still_photo_video(tmp / "biden-profile.y4m", FACES / "biden/biden2.jpg")}


@pytest.fixture(scope="session")
def browsers(playwright, face_videos, moodle_release):
    """Headless Chromium for a release's journeys; at the end of them, the check that no page showed debugging output
    and no log errors."""
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: the journeys need Debian's chromium")
    for tool in ("php", "php-fpm8.2", "nginx", "psql", "pg_restore", "pdftoppm"):
        require(shutil.which(tool), f"{tool} is missing: the journeys need it")
    # This release's screenshots only: another release's, in a folder below, may be in the making on another worker.
    folder = screenshots_folder(moodle_release)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    browsers = Browsers(playwright, face_videos, folder)
    try:
        yield browsers
        problems = browsers.problems()
    finally:
        browsers.close()
    assert problems == [], f"pages showed debugging output or logs have errors: {problems[:20]}"


@pytest.fixture(scope="session")
def phpunit_autoload(moodle_release, request):
    """PHPUnit's autoloader for Moodle's question generator (tests/moodle/make_course.php): Debian's PHPUnit 9.6 for
    Moodle 4.x; for 5.x, which asks for PHPUnit 11, the vendor/ shim that Moodle's tooling puts, as it sets up
    PHPUnit's test site, into the tools' copy of Moodle's code, and which loads the PHPUnit 11 it unpacked."""
    if int(moodle_release.branch) < 500:
        return "/usr/share/php/PHPUnit/Autoload.php"
    return str(request.getfixturevalue("moodle_phpunit").www / "vendor" / "autoload.php")


@pytest.fixture(scope="session")
def journey(browsers, tmp_path_factory, moodle_release, phpunit_autoload):
    """The journeys' Moodle with the working tree's plugin installed and set up as the admin leaves it."""
    journey = start_journey(browsers, tmp_path_factory.mktemp("journeys"), moodle_release, phpunit_autoload)
    try:
        journey.site.install_plugin()
        journey.site.set_config("sidecarurl", journey.sidecar.url)
        journey.site.set_config("secret", journey.sidecar.secret)
        yield journey
    finally:
        stop_journey(journey)


WARM_UP_USER = 999_999  # a Moodle user id the journeys' sites never reach


@pytest.fixture(scope="session")
def course(journey):
    """The course of tests/moodle/make_course.php, its quiz proctored with the quiz form's settings: its ids."""
    ids = journey.make_course()
    journey.cli("proctor", ids["quiz"], json.dumps(QUIZ_FORM))
    # A reference photo of a user no test signs in as, of a face no student has, loads the sidecar's face models, which the start of the first
    # attempt would otherwise wait for longer than the plugin's 3 seconds on a busy machine (and then show its
    # debugging output). The students' own pictures are left for the plugin to send, as a site sends them: an
    # earlier copy of another size would be a change of their profile photo.
    photo = FACES / "lin_manuel_miranda" / "lin-manuel-miranda.png"  # no student's face
    body, content_type = multipart({}, {"image": (photo.name, photo.read_bytes(), "image/png")})
    journey.sidecar.client.request("PUT", f"/api/v1/users/{WARM_UP_USER}/reference", body, content_type)
    return ids


@pytest.fixture(scope="session")
def forwarded_attempt(journey, course):
    """Barack Obama's attempt, its camshots forwarded through Moodle; leaves the page once; what it showed."""
    taken = SimpleNamespace(mode=journey.config().get("uploadmode", "forwarded"))
    log_start = len(journey.nginx_log())
    page, taken.attempt = start_attempt(journey, course["cmid"], "student1", "student1", "student1")
    answer(page, 1)
    # The camera starts as the page opens: its indicator says "starting" until the first frame, then "on".
    page.wait_for_function("document.querySelector('[data-region=quizaccess_proctorpy-indicator]').dataset.state "
                           "!== 'starting'")
    taken.indicator = page.locator("[data-region=quizaccess_proctorpy-indicator]").get_attribute("data-state")
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
    wait_for(lambda: len(journey.attempt_shots(taken.attempt)) >= 3, 60, "three camshots of student1's attempt")
    journey.shot(page, "student1-question-2", full_page=False)
    submit_attempt(journey, page, "student1")
    taken.log = journey.nginx_log()[log_start:]
    return taken


@pytest.fixture(scope="session")
def direct_attempts(journey, course):
    """In direct mode, Kit Harington's attempt and Joe Biden's, which Kit Harington takes too; what they showed.
    The site goes back to forwarding after them, as it was."""
    site = journey.site
    site.set_config("uploadmode", "direct")
    site.set_config("publicpath", "/proctorpy")
    taken = SimpleNamespace()
    # The admin's Test connection now checks the public path too.
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(f"{site.url}/mod/quiz/accessrule/proctorpy/testconnection.php")
    taken.test_connection = page.locator("#page-content .alert-success").all_inner_texts()
    journey.shot(page, "admin-test-connection-direct")
    page.context.close()

    log_start = len(journey.nginx_log())
    kit, taken.kit = start_attempt(journey, course["cmid"], "student3", "kit", "student3")
    answer(kit, 1)
    next_page(kit)
    answer(kit, 1)
    substitute, taken.substitute = start_attempt(journey, course["cmid"], "student2", "kit", "student2-substitute",
                                                 computer="substitute")
    answer(substitute, 0)
    next_page(substitute)
    answer(substitute, 0)
    wait_for(lambda: len(journey.attempt_shots(taken.kit)) >= 3 and len(journey.attempt_shots(taken.substitute)) >= 3,
             60, "three camshots of each direct attempt")
    journey.shot(kit, "student3-direct-question-2", full_page=False)
    journey.shot(substitute, "student2-substitute-question-2", full_page=False)
    submit_attempt(journey, kit, "student3")
    submit_attempt(journey, substitute, "student2")
    taken.log = journey.nginx_log()[log_start:]
    site.set_config("uploadmode", "forwarded")
    return taken


@pytest.fixture(scope="session")
def finished_attempts(journey, course, forwarded_attempt, direct_attempts):
    """The quiz's four finished attempts, username: attempt id: the three above and Rose Leslie's, whose two camshots
    Moodle forwarded without a browser. Moodle's cron has told the sidecar they are finished."""
    attempts = {"student1": forwarded_attempt.attempt, "student2": direct_attempts.substitute,
                "student3": direct_attempts.kit,
                "student4": journey.cli("attempt", course["quiz"], "student4", ROSE, 2)["attempt"]}
    for username, attempt_id in attempts.items():
        journey.analysed_shots(attempt_id, f"{username}'s")
    journey.site.cron()
    for username, attempt_id in attempts.items():
        wait_for(lambda: journey.attempt_json(attempt_id)["attempt"]["finished_at"], 30, f"{username}'s attempt finished")
    return attempts
