"""Safe Exam Browser beside proctoring in a real Moodle: a proctored quiz that requires Safe Exam Browser (core's
quizaccess_seb, "Yes – Configure manually", the camera let through). A browser that sends Safe Exam Browser's
headers, computed as Moodle checks them, goes through both rules' checks, the consent and camera check and the
identity step, and its camshots arrive; a browser without them is stopped by Safe Exam Browser's rule before
proctoring's pre-flight form opens. Screenshots go to build/moodle-journeys/ with the other journeys'.
"""
import hashlib
import re

import pytest

from moodle_journey import QUIZ_FORM, start_attempt, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.every_moodle]

# The Browser Exam Key of the Safe Exam Browser these journeys play: a quiz configured manually does not check it,
# but Safe Exam Browser sends its hash with every request all the same.
BROWSER_EXAM_KEY = hashlib.sha256(b"the journeys' Safe Exam Browser").hexdigest()
# The pages whose requests quizaccess_seb checks. Requests the test routes wait for the test to hand them on from
# inside a Playwright call: routing the page's own uploads too would hold them while the test polls the sidecar.
QUIZ_PAGES = re.compile(r"/mod/quiz/[a-z]+\.php")
# Safe Exam Browser names itself in its user agent; Moodle's rule reads that to tell it from other browsers.
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 SEB/3.7.1"


@pytest.fixture(scope="module")
def seb_quiz(journey, course):
    """A quiz of its own, proctored with an identity step and requiring Safe Exam Browser, and a student of its own
    whose profile picture is Barack Obama's; the quiz's ids and the config key Moodle expects."""
    course["users"]["sebobama"] = journey.make_course("student", "sebobama", "Barack", "Obama",
                                                      "obama/obama.jpg")["user"]
    quiz = journey.proctored_quiz("Safe Exam Browser (proctored)", **{**QUIZ_FORM, "identitycheck": "match"})
    return {**quiz, "configkey": journey.cli("seb", quiz["quiz"])["configkey"]}


def as_safe_exam_browser(config_key):
    """What makes a browser's context send Safe Exam Browser's headers with the quiz's pages: each the SHA-256 of the
    request's absolute URL followed by the key, as Safe Exam Browser computes them and quizaccess_seb checks them."""
    def send_headers(route, request):
        def url_hash(key):
            return hashlib.sha256((request.url + key).encode()).hexdigest()
        route.continue_(headers={**request.all_headers(), "user-agent": USER_AGENT,
                                 "x-safeexambrowser-configkeyhash": url_hash(config_key),
                                 "x-safeexambrowser-requesthash": url_hash(BROWSER_EXAM_KEY)})

    return lambda context: context.route(QUIZ_PAGES, send_headers)


def test_a_browser_without_safe_exam_browser_is_stopped_by_its_rule_not_by_proctoring(journey, seb_quiz):
    page = journey.login("sebobama", video="obama-closer", computer="sebobama-no-seb")
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={seb_quiz['cmid']}")
    journey.shot(page, "seb-without-safe-exam-browser")
    main = page.locator("#region-main")
    # Safe Exam Browser's rule answers: its buttons to launch it or download its configuration, no attempt button.
    assert main.get_by_text("Launch Safe Exam Browser").count() == 1, main.inner_text()
    assert main.get_by_role("button", name="Attempt quiz").count() == 0
    # Proctoring's pre-flight form (consent and camera) never opened, and no attempt was made.
    assert page.locator("[name=proctorpy_consent]").count() == 0
    attempts = journey.psql(f"select count(*) from mdl_quiz_attempts a join mdl_user u on u.id = a.userid "
                            f"where a.quiz = {seb_quiz['quiz']} and u.username = 'sebobama'")
    assert attempts == "0"
    refused = journey.psql("select count(*) from mdl_logstore_standard_log "
                           "where eventname = '\\quizaccess_seb\\event\\access_prevented' "
                           f"and contextinstanceid = {seb_quiz['cmid']}")
    assert int(refused) >= 1
    page.context.close()


def test_safe_exam_browser_and_proctoring_both_check_and_the_camshots_arrive(journey, seb_quiz):
    page, attempt_id = start_attempt(journey, seb_quiz["cmid"], "sebobama", "obama-closer", "seb-student",
                                     computer="sebobama-seb", identity_step=True,
                                     browser=as_safe_exam_browser(seb_quiz["configkey"]))
    # Safe Exam Browser's rule let the page through in its secure layout, with proctoring's camera indicator on it.
    assert "pagelayout-secure" in page.locator("body").get_attribute("class")
    indicator = page.locator("[data-region=quizaccess_proctorpy-indicator]")
    page.wait_for_function("document.querySelector('[data-region=quizaccess_proctorpy-indicator]')?.dataset.state "
                           "=== 'on'")
    shots = wait_for(lambda: len(s := journey.attempt_shots(attempt_id)) >= 2 and s, 60,
                     "two camshots of the attempt in Safe Exam Browser")
    journey.shot(page, "seb-student-question-1", full_page=False)
    assert indicator.get_attribute("data-state") == "on"
    assert all(shot["kind"] == "attempt" for shot in shots)
    identity = [(s["kind"], s["status"]) for s in journey.attempt_json(attempt_id)["shots"] if s["kind"] == "identity"]
    assert identity == [("identity", "ok")]
    page.context.close()
