"""The identity step's liveness challenge in a real Moodle: a student who comes closer to the camera as asked
passes; a student who holds their profile picture up to it is refused. Headless Chromium plays a face video as
the camera; screenshots of each step go to build/moodle-liveness/.

The site, the course and the browser come from the journeys' own helpers (tests/test_moodle_journeys.py,
imported, not changed): the same Moodle, make_course.php and quiz_cli.php, with a sidecar that draws the
"closer" challenge only, so that the video knows what to do.
"""
import json
import os
import re
import shutil

import pytest

import moodle_site
from conftest import FACES, LiveSidecar, free_port
from sidecar.analysis import liveness
from test_liveness_browser import coming_closer_video, still_photo_video
from test_moodle_journeys import CHROMIUM, MAKE_COURSE, PLUGIN, Journey, private_moodle, require, wait_for_identity_step

pytestmark = pytest.mark.slow

SCREENSHOTS = moodle_site.REPO / "build" / "moodle-liveness"
QUIZ = {"intervalmin": 20, "intervalmax": 40, "imagewidth": 320, "identitycheck": "match", "threshold": 60,
        "retentiondays": 30}


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: the journeys need Debian's chromium")
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
    journey = Journey(tmp_path_factory.mktemp("liveness"))
    try:
        # Barack Obama's profile picture is obama.jpg: his camera films him in another photo, coming closer.
        journey.videos["obama-closer"] = coming_closer_video(journey.tmp / "closer.y4m", "obama/obama1.jpg")
        # Joe Biden's profile picture (biden2.jpg) held up to the camera.
        journey.videos["biden-profile"] = still_photo_video(journey.tmp / "profile.y4m", "biden/biden2.jpg")
        journey.sidecar = LiveSidecar(journey.tmp / "sidecar", env={"PROCTORPY_IDENTITY_CHALLENGES": "closer"}).start(60)
        journey.site = moodle_site.MoodleSite(www, free_port())
        try:
            journey.site.install()
        except moodle_site.MoodleUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        journey.psql("update mdl_tool_usertours_tours set enabled = 0")
        journey.site.install_plugin(PLUGIN)
        journey.site.set_config("sidecarurl", journey.sidecar.url)
        journey.site.set_config("secret", journey.sidecar.secret)
        journey.ids = json.loads(journey.php(MAKE_COURSE, journey.site.www, FACES).strip().splitlines()[-1])
        journey.cli("proctor", journey.ids["quiz"], json.dumps(QUIZ))
        # The course index and block drawers closed, as in the journeys, so that full-page screenshots show the form.
        journey.psql("insert into mdl_user_preferences (userid, name, value) "
                     "select u.id, d.name, '0' from mdl_user u, (values ('drawer-open-index'), ('drawer-open-block')) "
                     "d(name) where u.deleted = 0 on conflict (userid, name) do update set value = '0'")
        journey.site.start_web()
        journey.playwright = sync_playwright().start()
        yield journey
    finally:
        journey.close()


def reach_identity_step(journey, username, video):
    """Log in, give consent with the camera working, start the attempt: the page at its identity step."""
    page = journey.login(username, video=video, computer=username)
    # The first pages of a new site build Moodle's caches: on a loaded machine they take more than the 30 s allowed.
    page.set_default_timeout(90000)
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={journey.ids['cmid']}")
    page.wait_for_selector(".mod_quiz_preflight_popup [name=submitbutton]", state="attached")
    page.click("#page-content button:has-text('Attempt quiz')")
    dialog = page.locator(".mod_quiz_preflight_popup")
    dialog.locator("[name=submitbutton]").wait_for(state="visible")
    page.wait_for_function("document.querySelector('.mod_quiz_preflight_popup [name=submitbutton]').disabled === false")
    dialog.locator("[name=proctorpy_consent]").check()
    dialog.locator("[name=submitbutton]").click()
    page.wait_for_url("**/mod/quiz/startattempt.php*")
    try:
        wait_for_identity_step(page)
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / f"{username}-no-identity-step.png"), full_page=True)
        pytest.fail(f"{username} did not reach the identity step: {page.url}\n{page.inner_text('body')[:1500]}")
    return page


def follow_challenge(page, name):
    """Start the identity check; screenshots of the instruction and of the answer; (instruction, answer kind, text)."""
    page.click("[data-action=takephoto]")
    instruction = page.locator("[data-region=instruction]")
    instruction.wait_for(state="visible")
    shown = instruction.inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"{name}-challenge.png"), full_page=True)
    page.wait_for_function("""() => {
        const message = document.querySelector('[data-region=quizaccess_proctorpy-identity] [data-region=message]');
        return /alert-(success|warning|danger)/.test(message.className);
    }""", timeout=60000)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-answer.png"), full_page=True)
    message = page.locator("[data-region=quizaccess_proctorpy-identity] [data-region=message]")
    return shown, message.get_attribute("class"), message.inner_text()


def test_a_student_who_comes_closer_as_asked_passes_and_starts(journey):
    page = reach_identity_step(journey, "student1", "obama-closer")
    shown, kind, text = follow_challenge(page, "01-obama")
    assert shown == "Now: " + liveness.INSTRUCTIONS["closer"]
    assert "alert-success" in kind and "matches your profile photo" in text, text
    page.click("#mod_quiz_preflight_form [name=submitbutton]")
    page.wait_for_url("**/mod/quiz/attempt.php*")
    attempt_id = int(re.search(r"[?&]attempt=(\d+)", page.url).group(1))
    shots = journey.attempt_json(attempt_id)["shots"]
    assert [(shot["kind"], shot["status"]) for shot in shots if shot["kind"] == "identity"] == [("identity", "ok")]


def test_a_profile_picture_held_up_to_the_camera_is_refused(journey):
    page = reach_identity_step(journey, "student2", "biden-profile")
    _, kind, text = follow_challenge(page, "02-biden-profile-picture")
    assert "alert-warning" in kind and liveness.MESSAGES["profile_photo"] in text, text
    # Moodle still holds the attempt at its identity step.
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={journey.ids['cmid']}")
    assert journey.psql("select count(*) from mdl_quizaccess_proctorpy_idcheck") == "1"  # Obama's pass only
