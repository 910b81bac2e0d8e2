"""The identity chain in a real Moodle: at the identity step, a student who comes closer to the camera as asked
passes and a student who holds their profile picture up to it is refused; the teacher's report shows the photo an
attempt was judged against, and warns of a profile picture changed to another person's before an attempt. Headless
Chromium plays a face video as the camera; screenshots of each step go to build/moodle-journeys/ with the other
journeys'.

The journeys' sidecar draws the "closer" challenge only, so that the videos know what to do; the quiz here is one
of its own, whose face must match the profile photo.
"""
import re

import pytest

from moodle_journey import (
    KIT, QUIZ_FORM, ROSE, START_ENABLED, images_loaded, open_preflight, wait_for, wait_for_identity_step,
)
from sidecar.analysis import liveness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def matched_quiz(journey, course):
    """A quiz of its own whose face must match, and students of its own, whose profile pictures are Barack Obama's
    (obama.jpg) and Joe Biden's (biden2.jpg), as student1's and student2's are."""
    for username, first, last, photo in (("faceobama", "Barack", "Obama", "obama/obama.jpg"),
                                         ("facebiden", "Joe", "Biden", "biden/biden2.jpg")):
        course["users"][username] = journey.make_course("student", username, first, last, photo)["user"]
    return journey.proctored_quiz("Identity with a challenge (proctored)", **{**QUIZ_FORM, "identitycheck": "match"})


def reach_identity_step(journey, quiz, username, video):
    """Log in, give consent with the camera working, start the attempt: the page at its identity step."""
    # A computer of its own: a browser's camera plays the video it was started with.
    page = journey.login(username, video=video, computer=f"{username}-{video}")
    dialog = open_preflight(journey, page, quiz["cmid"])
    page.wait_for_function(START_ENABLED)
    dialog.locator("[name=proctorpy_consent]").check()
    dialog.locator("[name=submitbutton]").click()
    page.wait_for_url("**/mod/quiz/startattempt.php*")
    wait_for_identity_step(page)
    return page


def follow_challenge(journey, page, name):
    """Start the identity check; screenshots of the instruction and of the answer; (instruction, answer kind, text)."""
    page.click("[data-action=takephoto]")
    instruction = page.locator("[data-region=instruction]")
    instruction.wait_for(state="visible")
    shown = instruction.inner_text()
    journey.shot(page, f"{name}-challenge")
    page.wait_for_function("""() => {
        const message = document.querySelector('[data-region=quizaccess_proctorpy-identity] [data-region=message]');
        return /alert-(success|warning|danger)/.test(message.className);
    }""", timeout=60000)
    journey.shot(page, f"{name}-answer")
    message = page.locator("[data-region=quizaccess_proctorpy-identity] [data-region=message]")
    return shown, message.get_attribute("class"), message.inner_text()


def test_a_student_who_comes_closer_as_asked_passes_and_starts(journey, matched_quiz):
    page = reach_identity_step(journey, matched_quiz, "faceobama", "obama-closer")
    shown, kind, text = follow_challenge(journey, page, "faceobama-liveness")
    assert shown == "Now: " + liveness.INSTRUCTIONS["closer"]
    assert "alert-success" in kind and "matches your profile photo" in text, text
    page.click("#mod_quiz_preflight_form [name=submitbutton]")
    page.wait_for_url("**/mod/quiz/attempt.php*")
    attempt_id = int(re.search(r"[?&]attempt=(\d+)", page.url).group(1))
    shots = journey.attempt_json(attempt_id)["shots"]
    assert [(shot["kind"], shot["status"]) for shot in shots if shot["kind"] == "identity"] == [("identity", "ok")]


def test_a_profile_picture_held_up_to_the_camera_is_refused(journey, course, matched_quiz):
    page = reach_identity_step(journey, matched_quiz, "facebiden", "biden-profile")
    _, kind, text = follow_challenge(journey, page, "facebiden-liveness-profile-picture")
    assert "alert-warning" in kind and liveness.MESSAGES["profile_photo"] in text, text
    # Moodle still holds the attempt at its identity step: no pass is recorded for it.
    attempt = journey.psql(f"select id from mdl_quiz_attempts where quiz = {matched_quiz['quiz']} and userid = "
                           f"{course['users']['facebiden']} and state = 'inprogress'")
    assert journey.psql(f"select count(*) from mdl_quizaccess_proctorpy_idcheck where attemptid = {attempt} "
                        "and outcome = 'passed'") == "0"


def test_the_report_shows_the_photo_judged_against_and_a_profile_picture_changed_to_another_person(journey, course):
    # A student of its own, whose first attempt is judged against her own face (Rose Leslie's): then her profile
    # picture becomes Kit Harington's, and he sits her second attempt, which his new "profile" would match.
    journey.make_course("student", "swapper", "Sam", "Swap", ROSE.relative_to(ROSE.parents[1]).as_posix())
    quiz = journey.proctored_quiz("Profile pictures (proctored)")
    first = journey.cli("attempt", quiz["quiz"], "swapper", ROSE, 1)["attempt"]
    journey.make_course("picture", "swapper", KIT[0].relative_to(KIT[0].parents[1]).as_posix())
    second = journey.cli("attempt", quiz["quiz"], "swapper", KIT[0], 1)["attempt"]
    assert [c["kind"] for c in journey.attempt_json(second)["identity"]["reference_changes"]] == ["another_person"]
    assert journey.attempt_json(first)["identity"]["reference_changes"] == []

    teacher = journey.login("teacher")
    teacher.goto(journey.report_url(quiz["cmid"], second))
    report = teacher.locator("#page-content").inner_text()
    assert "Judged against" in report, report[:2000]
    assert "Profile photo changed to another person" in report, report[:2000]
    wait_for(lambda: images_loaded(teacher) == [], 30, "the report's photos to load")
    journey.shot(teacher, "teacher-report-profile-picture-changed")
    teacher.goto(journey.report_url(quiz["cmid"]))
    overview = teacher.locator("#page-content").inner_text()
    assert "Profile photo changed to another person" in overview or "profile photo changed" in overview.lower(), \
        overview[:2000]
    journey.shot(teacher, "teacher-overview-profile-picture-changed")
