"""The students' journeys (DESIGN.md 3) in a real Moodle, in headless Chromium whose webcam plays a face video:
the consent and camera check, the identity check, camshots forwarded through Moodle or sent direct through nginx,
a student in another's place, and a substitute stopped at the start. tests/moodle_journey.py has the fixtures."""
import json

import numpy as np
import pytest

from moodle_journey import (
    KIT, OBAMA, QUIZ_FORM, START_ENABLED, STUDENTS, face_video, images_loaded, next_page, open_preflight,
    start_attempt, take_identity_photo, wait_for, wait_for_identity_step,
)

pytestmark = pytest.mark.slow


def test_face_videos_are_y4m_with_a_face_and_an_empty_room(face_videos):
    width, height, fps, frames = face_video.read_y4m(face_videos["student1"])
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
    _, _, _, kit = face_video.read_y4m(face_videos["kit"])
    assert len(kit) == 18 and len(face_recognition.face_locations(kit[0])) == 1  # 3.6 s of coming closer
    for path in face_videos.values():
        assert path.stat().st_size < 10_000_000


@pytest.mark.every_moodle
def test_student_takes_the_quiz_forwarded_through_moodle(journey, forwarded_attempt):
    taken = forwarded_attempt
    assert taken.mode == "forwarded"
    assert taken.indicator == "on"
    events = {e["type"] for e in journey.attempt_json(taken.attempt)["events"]}
    assert {"focus_lost", "focus_back", "tab_hidden", "tab_visible"} <= events, events

    # Forwarded: every camshot went through Moodle's web services, none through the direct path.
    assert "quizaccess_proctorpy_upload_camshot" in taken.log
    assert "/proctorpy/api/v1/direct/" not in taken.log
    shots = journey.analysed_shots(taken.attempt, "student1's")
    assert {s["width"] for s in shots} == {320}
    assert any(s["status"] == "ok" for s in shots), shots
    # The camera restarts the video on each page: its first camshot there, 5 to 6 s in, sees the empty room.
    assert any(s["status"] == "no_face" for s in shots), shots


@pytest.mark.every_moodle
def test_students_take_the_quiz_direct_one_in_anothers_place(journey, course, direct_attempts, finished_attempts):
    taken = direct_attempts
    # The admin's Test connection checked the public path too.
    assert any("Direct upload: browsers reach the sidecar" in a for a in taken.test_connection), taken.test_connection

    # Direct: the camshots came through nginx's public path, not through Moodle.
    direct_posts = [line for line in taken.log.splitlines() if "POST /proctorpy/api/v1/direct/camshots" in line]
    assert len(direct_posts) >= 6, taken.log[-3000:]
    # 499 is nginx's word for an upload the browser dropped as it left the page: the camshot stays in the tab's
    # queue and is sent again from the next page (the sidecar answers 200 to a retry).
    assert all(any(f'" {status} ' in line for status in (201, 200, 499)) for line in direct_posts), direct_posts
    # Of these two attempts' pages (a page of another journey still open may forward its own meanwhile).
    theirs = [line for line in taken.log.splitlines()
              if any(f"attempt.php?attempt={attempt}&" in line for attempt in (taken.kit, taken.substitute))]
    assert theirs and not any("quizaccess_proctorpy_upload_camshot" in line for line in theirs), theirs

    # The substitute is seen: Joe Biden's camshots show another student of the quiz (or not him).
    shots = journey.analysed_shots(taken.substitute, "the substitute's")
    kit_id = course["users"]["student3"]
    assert all(s["status"] == "mismatch" or s["matched_user_id"] == kit_id for s in shots), shots
    assert any(s["matched_user_id"] == kit_id for s in shots), shots
    own = journey.analysed_shots(taken.kit, "Kit Harington's")
    assert all(s["status"] == "ok" and s["matched_user_id"] is None for s in own), own

    # Moodle's cron has told the sidecar that the attempts are finished.
    for username in ("student1", "student2", "student3"):
        attempt_id = finished_attempts[username]
        wait_for(lambda: journey.attempt_json(attempt_id)["attempt"]["finished_at"], 30, f"{username}'s attempt finished")
    score = journey.attempt_json(taken.substitute)["score"]
    assert score and score["flagged"], score
    # Kit Harington stayed on the quiz's pages, alone, all along: going from one page of the quiz to the
    # next is not leaving the tab, and his attempt is not flagged.
    honest = journey.attempt_json(taken.kit)
    assert [e["type"] for e in honest["events"] if e["type"] in ("tab_hidden", "focus_lost")] == [], honest["events"]
    assert honest["score"]["value"] is not None and not honest["score"]["flagged"], honest["score"]


@pytest.mark.every_moodle
def test_identity_match_stops_a_substitute_until_a_teacher_lets_the_attempt_go_on(journey, course):
    # A quiz of its own where the face must match the profile photo. Kit Harington has sat it: the sidecar compares
    # a face with those of the quiz's students.
    quiz = journey.proctored_quiz("Identity checked (proctored)")
    journey.cli("attempt", quiz["quiz"], "student3", KIT[0], 1)
    journey.cli("proctor", quiz["quiz"], json.dumps({**QUIZ_FORM, "identitycheck": "match"}))
    # Kit Harington sits down at Rose Leslie's computer.
    page = journey.login("student4", video="kit", computer="student4")
    dialog = open_preflight(journey, page, quiz["cmid"])
    dialog.locator("[name=proctorpy_consent]").check()
    page.wait_for_function(START_ENABLED)
    dialog.locator("[name=submitbutton]").click()
    page.wait_for_url("**/mod/quiz/startattempt.php*")
    attempt_id = int(journey.psql(f"select id from mdl_quiz_attempts where quiz = {quiz['quiz']} and userid = "
                                  f"{course['users']['student4']} and state = 'inprogress'"))
    identity = wait_for_identity_step(page)
    assert not take_identity_photo(page)
    message = identity.locator("[data-region=message]")
    assert "does not match your profile photo" in message.inner_text()
    assert "ask your teacher" in message.inner_text()
    journey.shot(page, "student4-substitute-identity-refused", full_page=False)
    shots = journey.attempt_json(attempt_id)["shots"]
    assert [s["kind"] for s in shots] == ["identity"] and shots[0]["status"] == "mismatch", shots
    assert shots[0]["matched_user_id"] == course["users"]["student3"], shots

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
    teacher.goto(journey.report_url(quiz["cmid"]))
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
    assert logged == f"{course['users']['teacher']} {course['users']['student4']} {attempt_id}", logged
    teacher.context.close()

    # His consent stands for this session: the questions show at once.
    page.goto(f"{journey.site.url}/mod/quiz/attempt.php?attempt={attempt_id}")
    page.wait_for_selector(".que")
    assert "/mod/quiz/attempt.php" in page.url
    journey.shot(page, "student4-attempt-after-waiver", full_page=False)
    page.context.close()



BANNER = "[data-region=quizaccess_proctorpy-banner]"
# Keeps the camera streams the page opens, so that a test can end their tracks as an unplugged camera would.
KEEP_STREAMS = """
window.proctorpyStreams = [];
const openCamera = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await openCamera(constraints);
    window.proctorpyStreams.push(stream);
    return stream;
};
"""
# The capture module has started on the page (its indicator is there) and the camera is on.
INDICATOR_ON = "document.querySelector('[data-region=quizaccess_proctorpy-indicator]')?.dataset.state === 'on'"


def test_the_banner_tells_a_student_whose_camera_stops_or_whose_camshots_cannot_be_sent(journey, course):
    """On a quiz of its own: the camera stops mid-attempt, then the sidecar stops mid-attempt; each time the banner
    above the questions says what happened, what to do and how it counts, and goes when things recover."""
    quiz = journey.proctored_quiz("Quiz whose capture goes wrong")
    page, attempt = start_attempt(journey, quiz["cmid"], "student4", "student1", "banner")
    page.add_init_script(KEEP_STREAMS)
    page.reload()
    page.wait_for_function(INDICATOR_ON)
    banner = page.locator(BANNER)
    assert banner.is_hidden()
    assert banner.get_attribute("role") == "alert"

    # The camera's track ends, as when it is unplugged; the capture module opens it again a few seconds later.
    page.evaluate("window.proctorpyStreams.at(-1).getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    banner.wait_for(state="visible")
    text = banner.inner_text()
    assert "Your camera is off" in text and "The camera stopped. Turn it back on" in text, text
    assert "this time counts as camera off" in text, text
    assert "alert-danger" in banner.get_attribute("class")
    journey.shot(page, "banner-camera-stopped", full_page=False)
    banner.wait_for(state="hidden", timeout=30000)
    page.wait_for_function(INDICATOR_ON)

    with journey.sidecar.stopped(60):
        wait_for(lambda: banner.is_visible() and "Upload delayed" in banner.inner_text(), 60,
                 "the banner to tell delayed uploads")
        text = banner.inner_text()
        assert "Keep this tab open: your camshots are kept in this browser" in text, text
        assert "This does not count against you." in text, text
        assert "alert-warning" in banner.get_attribute("class")
        journey.shot(page, "banner-upload-delayed", full_page=False)
    banner.wait_for(state="hidden", timeout=120000)
    wanted = {"camera_lost", "camera_back", "upload_failed", "upload_back"}
    wait_for(lambda: wanted <= {e["type"] for e in journey.attempt_json(attempt)["events"]}, 60, "the attempt's events")

    # On the summary page, before submitting, camshots that cannot be sent yet are counted.
    next_page(page)
    next_page(page)
    page.wait_for_url("**/mod/quiz/summary.php*")
    page.wait_for_function(INDICATOR_ON)
    with journey.sidecar.stopped(60):
        wait_for(lambda: banner.is_visible() and "Camshots still waiting to be sent" in banner.inner_text(), 60,
                 "the warning before submitting")
        text = banner.inner_text()
        assert "camshots of this attempt have not reached the proctoring server yet" in text, text
        assert "Keep this tab open a moment before you submit" in text, text
        journey.shot(page, "banner-summary-queued", full_page=False)
    banner.wait_for(state="hidden", timeout=120000)
    page.click("#page-content button:has-text('Submit all and finish')")
    page.locator(".modal-dialog .modal-footer button:has-text('Submit all and finish')").click()
    page.wait_for_url("**/mod/quiz/review.php*")
    page.context.close()
