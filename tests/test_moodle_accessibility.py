"""The plugin's pages in a real Moodle measured by axe-core against WCAG 2.1 A and AA, and worked from the keyboard:
the consent and camera check, the identity step, the attempt's camera indicator, the live view, the overview and an
attempt's report. tests/moodle_journey.py has the fixtures.

Only the plugin's own regions are measured: what Moodle's theme and core draw around them (its navigation, drawers
and dialogue frame) is Moodle's to fix, and is left out by naming the regions.
"""
import re

import pytest

from axe import violations
from moodle_journey import (
    QUIZ_FORM, START_ENABLED, answer, debugging_output, next_page, open_preflight, submit_attempt, wait_for,
    wait_for_identity_step,
)

pytestmark = [pytest.mark.slow, pytest.mark.every_moodle]

PREFLIGHT = "[data-region=quizaccess_proctorpy-preflight]"
INDICATOR = "[data-region=quizaccess_proctorpy-indicator]"
LIVE = "[data-region=quizaccess_proctorpy-live]"
REPORT = ".quizaccess_proctorpy-report"


@pytest.fixture(scope="module")
def identity_quiz(journey, course):
    """A quiz of its own whose face must match, and a student of its own with Barack Obama's profile picture, whom
    the identity step's challenge (coming closer) is played by the video of another photo of him."""
    course["users"]["axeobama"] = journey.make_course("student", "axeobama", "Barack", "Obama",
                                                      "obama/obama.jpg")["user"]
    return journey.proctored_quiz("Accessible (proctored)", **{**QUIZ_FORM, "identitycheck": "match"})


def press_until_focused(page, selector, limit=60):
    """Tab through the page until the element is focused, as a keyboard user reaches it; fails when Tab never does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement?.matches(selector)", selector):
            return
    pytest.fail(f"Tab never reaches {selector} on {page.url}")


def measured(found, name, page, *regions):
    found[name] = violations(page, list(regions))
    print(f"axe: {name}: {len(found[name])} serious or critical violation(s) {found[name] or ''}")
    return found[name]


def test_the_plugins_pages_pass_axe_and_work_from_the_keyboard(journey, course, finished_attempts, identity_quiz):
    found = {}
    quiz = identity_quiz
    # The teacher watches the quiz live while the student starts it.
    teacher = journey.login("teacher")
    teacher.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/live.php?cmid={quiz['cmid']}")
    measured(found, "live view, empty", teacher, LIVE)

    # The consent and camera check: the consent box and the start button from the keyboard.
    student = journey.login("axeobama", video="obama-closer", computer="axeobama")
    dialog = open_preflight(journey, student, quiz["cmid"])
    student.wait_for_function(START_ENABLED)
    measured(found, "consent and camera", student, f".mod_quiz_preflight_popup {PREFLIGHT}")
    journey.shot(student, "a11y-consent-camera", full_page=False)
    press_until_focused(student, ".mod_quiz_preflight_popup [name=proctorpy_consent]")
    student.keyboard.press("Space")
    assert dialog.locator("[name=proctorpy_consent]").is_checked()
    press_until_focused(student, ".mod_quiz_preflight_popup [name=submitbutton]")
    student.keyboard.press("Enter")

    # The identity step: its button from the keyboard, the challenge, the answer.
    student.wait_for_url("**/mod/quiz/startattempt.php*")
    wait_for_identity_step(student)
    measured(found, "identity step", student, PREFLIGHT)
    press_until_focused(student, "[data-action=takephoto]")
    student.keyboard.press("Enter")
    student.wait_for_function("""() => {
        const message = document.querySelector('[data-region=quizaccess_proctorpy-identity] [data-region=message]');
        return /alert-(success|warning|danger)/.test(message.className);
    }""", timeout=60000)
    measured(found, "identity step, answered", student, PREFLIGHT)
    journey.shot(student, "a11y-identity-answered", full_page=False)
    assert "alert-success" in student.get_attribute("[data-region=quizaccess_proctorpy-identity] [data-region=message]",
                                                    "class")
    student.click("#mod_quiz_preflight_form [name=submitbutton]")
    student.wait_for_url("**/mod/quiz/attempt.php*")
    attempt_id = int(re.search(r"[?&]attempt=(\d+)", student.url).group(1))

    # The attempt: the camera indicator says in words what the camera does.
    student.wait_for_function(f"(document.querySelector('{INDICATOR}')?.dataset.state || 'starting') !== 'starting'")
    assert student.inner_text(INDICATOR).strip()
    measured(found, "attempt, camera indicator", student, INDICATOR)
    answer(student, 1)

    # The live view with the attempt's tile, and its filter from the keyboard.
    teacher.wait_for_selector(f"[data-region=tile][data-attemptid='{attempt_id}'] img", timeout=60000)
    measured(found, "live view, a tile", teacher, LIVE)
    journey.shot(teacher, "a11y-live-view")
    press_until_focused(teacher, "[data-action=flaggedonly]")
    teacher.keyboard.press("Space")
    state = "[document.activeElement.outerHTML.slice(0, 120), location.search]"
    wait_for(lambda: "flagged=1" in teacher.evaluate("location.search"), 10,
             f"the flagged-only filter to apply ({teacher.evaluate(state)})")
    teacher.keyboard.press("Space")
    next_page(student)
    answer(student, 0)
    submit_attempt(journey, student, "a11y-student")

    # The overview and each finished attempt's report of the course's quiz.
    teacher.goto(journey.report_url(course["cmid"]))
    measured(found, "overview", teacher, REPORT)
    journey.shot(teacher, "a11y-overview")
    for username, attempt in finished_attempts.items():
        teacher.goto(journey.report_url(course["cmid"], attempt))
        teacher.wait_for_selector(".ppr-timeline")
        measured(found, f"report of {username}'s attempt", teacher, REPORT)
    # The camshots' verdicts are words, the timeline's colours are said in its text alternative, and the
    # "flagged only" filter works from the keyboard.
    assert all(text.strip() for text in teacher.locator(f"{REPORT} .ppr-badge").all_inner_texts())
    assert "minute" in teacher.get_attribute(f"{REPORT} .ppr-timeline", "aria-label")
    press_until_focused(teacher, f"{REPORT} .ppr-filter")
    teacher.keyboard.press("Space")
    assert teacher.is_checked(f"{REPORT} .ppr-filter")
    teacher.keyboard.press("Space")
    # The review form from the keyboard: a conclusion, a comment, saved.
    press_until_focused(teacher, "input[name=conclusion][value=accepted]")
    teacher.keyboard.press("Space")
    press_until_focused(teacher, "textarea[name=comment]")
    teacher.keyboard.type("Checked from the keyboard.")
    press_until_focused(teacher, f"{REPORT} form button[type=submit].btn-primary")
    with teacher.expect_navigation():
        teacher.keyboard.press("Enter")
    assert "Checked from the keyboard." in teacher.inner_text(REPORT)
    measured(found, "report, reviewed", teacher, REPORT)
    journey.shot(teacher, "a11y-report-reviewed")
    assert debugging_output(teacher) == []
    teacher.context.close()

    counts = {name: len(rules) for name, rules in found.items()}
    print("axe serious/critical violations per page (the plugin's regions):", counts)
    assert {name: rules for name, rules in found.items() if rules} == {}
