"""The teachers' journeys (DESIGN.md 2 and 4) in a real Moodle, in headless Chromium: proctoring turned on in the
quiz form, the overview and every attempt's report, the PDF and the review, the non-editing teacher, the live view,
the alert of a flagged attempt and the web services. tests/moodle_journey.py has the fixtures."""
import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
import requests

from moodle_journey import (
    OBAMA, QUIZ_FORM, ROSE, STUDENTS, answer, debugging_output, images_loaded, log_size, log_text,
    next_page, start_attempt, submit_attempt, wait_for,
)
from sidecar.db import connect

pytestmark = pytest.mark.slow


def open_quiz_settings(page, journey, cmid):
    page.goto(f"{journey.site.url}/course/modedit.php?update={cmid}")
    # The plugin's section of the form starts collapsed.
    page.locator("#id_proctorpyheader .fheader, a[href='#id_proctorpyheadercontainer']").first.click()
    page.wait_for_selector("#id_proctorpy_enabled", state="visible")


def test_teacher_turns_proctoring_on_in_the_quiz_form(journey, course):
    quiz = journey.make_course("quiz", "Final (proctored)")
    assert journey.quiz_row(quiz["quiz"]) is None
    page = journey.login("teacher")
    open_quiz_settings(page, journey, quiz["cmid"])
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
    row = journey.quiz_row(quiz["quiz"])
    assert row["enabled"] == 1
    assert {k: str(row[k]) for k in QUIZ_FORM} == QUIZ_FORM
    assert page.locator("a:has-text('View Proctoring Report')").is_visible()
    page.context.close()


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


# What the teacher decides on, right after the student's name: these columns must show without scrolling.
DECISION_COLUMNS = ["Student", "Score", "Flagged", "Review"]


def decision_columns_in_view(page):
    """The overview's first headers, and whether each ends inside the content column and the window."""
    return page.evaluate("""() => {
        const main = document.querySelector('#region-main').getBoundingClientRect();
        return Array.from(document.querySelectorAll('.quizaccess_proctorpy-fragment thead th')).slice(0, 4).map((th) =>
            [th.innerText.replace(/[▲▼]/g, '').trim(),
             th.getBoundingClientRect().right <= Math.min(main.right, window.innerWidth) + 1]);
    }""")


def set_teacher(journey, **fields):
    """Set fields of the teacher's Moodle account, or a drawer's preference (drawer_open_index), before they sign in."""
    for name, value in fields.items():
        if name.startswith("drawer"):
            preference = name.replace("_", "-")
            journey.psql(f"update mdl_user_preferences set value = '{value}' where name = '{preference}' "
                         "and userid = (select id from mdl_user where username = 'teacher')")
        else:
            journey.psql(f"update mdl_user set {name} = '{value}' where username = 'teacher'")


@pytest.mark.every_moodle
def test_teacher_reads_the_overview_and_every_attempt_report(journey, course, finished_attempts):
    # The teacher's Moodle time zone is Tokyo's: the overview and the reports show their times in it.
    set_teacher(journey, timezone="Asia/Tokyo", drawer_open_index=1)
    try:
        read_the_overview_and_every_attempt_report(journey, course, finished_attempts)
    finally:
        set_teacher(journey, timezone="99", drawer_open_index=0)


def read_the_overview_and_every_attempt_report(journey, course, finished_attempts):
    page = journey.login("teacher")
    page.goto(f"{journey.site.url}/mod/quiz/view.php?id={course['cmid']}")
    page.click("a:has-text('View Proctoring Report')")
    page.wait_for_url("**/accessrule/proctorpy/report.php?cmid=*")
    # 1280 px wide with the course index open, as a teacher's laptop shows it: score, flag and review in view.
    assert page.viewport_size["width"] == 1280 and page.locator("#theme_boost-drawers-courseindex.show").count() == 1
    page.locator("#theme_boost-drawers-courseindex .courseindex-item").first.wait_for()
    assert decision_columns_in_view(page) == [[name, True] for name in DECISION_COLUMNS]
    journey.shot(page, "teacher-overview-1280-course-index", full_page=False)
    assert "Times are in Asia/Tokyo." in page.inner_text(".quizaccess_proctorpy-fragment")
    # The rest of the journey with the course index closed, as its own button does (Moodle keeps the choice).
    page.evaluate("document.querySelector('#theme_boost-drawers-courseindex [data-action=closedrawer]').click()")
    wait_for(lambda: page.locator("#theme_boost-drawers-courseindex.show").count() == 0, 10, "the course index to close")
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

    # The filters the guide promises: the flagged attempts, then those not reviewed yet.
    page.select_option("#quizaccess_proctorpy-filterflagged", "1")
    page.click("[data-region=overviewfilters] button[type=submit]")
    page.wait_for_url("**flagged=1**")
    flagged_rows = [row.inner_text() for row in table.locator("tbody tr").all()]
    assert flagged_rows and all("flagged" in row for row in flagged_rows), flagged_rows
    assert not any("Kit Harington" in row for row in flagged_rows), flagged_rows
    assert page.locator("#quizaccess_proctorpy-filterflagged option:checked").inner_text() == "Flagged"
    journey.shot(page, "teacher-overview-flagged")
    page.select_option("#quizaccess_proctorpy-filterflagged", "")
    page.select_option("#quizaccess_proctorpy-filterreview", "none")
    page.click("[data-region=overviewfilters] button[type=submit]")
    page.wait_for_url("**review=none**")
    # Those the overview showed as not reviewed, whatever other journeys reviewed before this one.
    unreviewed = sorted(name for name in STUDENTS.values() if "not reviewed" in text[name])
    shown = sorted(name for name in STUDENTS.values() if table.locator("tbody tr", has_text=name).count())
    assert unreviewed and shown == unreviewed, (shown, unreviewed)

    # The CSV of the whole overview, its filters off again: one row per attempt.
    page.select_option("#quizaccess_proctorpy-filterreview", "")
    page.click("[data-region=overviewfilters] button[type=submit]")
    page.wait_for_url(re.compile(r"review=(&|$)"))
    with page.expect_download() as download:
        page.click("a:has-text('Download CSV')")
    rows_csv = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows_csv) == 4, rows_csv
    assert {str(a) for a in finished_attempts.values()} <= {v for row in rows_csv for v in row.values()}

    broken_by_attempt = {}
    for username, attempt_id in finished_attempts.items():
        page.goto(journey.report_url(course["cmid"], attempt_id))
        assert STUDENTS[username] in page.inner_text("#region-main")
        assert "Times are in Asia/Tokyo (UTC+09:00)" in page.inner_text("#region-main")
        assert debugging_output(page) == [], debugging_output(page)
        broken = images_loaded(page)
        journey.shot(page, f"teacher-report-{username}")
        if broken:
            broken_by_attempt[username] = broken
        assert page.locator(".quizaccess_proctorpy-fragment .ppr-refs img").count() >= 1, \
            f"no reference photo on {username}'s report"
    assert broken_by_attempt == {}, f"images that did not load on the attempt reports: {broken_by_attempt}"

    # Kit Harington sat Joe Biden's attempt: his name on its camshots opens his own attempt at the quiz.
    page.goto(journey.report_url(course["cmid"], finished_attempts["student2"]))
    another = page.locator(".quizaccess_proctorpy-fragment .ppr-grid a.ppr-st-substitution").first
    assert another.inner_text() == "Another student: Kit Harington"
    another.click()
    page.wait_for_url(f"**attempt={finished_attempts['student3']}")
    assert "Kit Harington" in page.inner_text(".quizaccess_proctorpy-fragment h2")
    page.context.close()


def test_teacher_downloads_the_pdf_and_reviews_attempts(journey, course, finished_attempts, tmp_path):
    page = journey.login("teacher")
    page.goto(journey.report_url(course["cmid"], finished_attempts["student2"]))
    with page.expect_download() as download:
        page.click("a:has-text('Download PDF')")
    pdf = tmp_path / "substitute.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True)
    assert list(tmp_path.glob("page*.png")), "pdftoppm rendered no page"

    for username, conclusion, comment in (("student2", "rejected", "Kit Harington on camera, not Joe Biden."),
                                          ("student1", "accepted", "Left the desk for a moment; fine.")):
        page.goto(journey.report_url(course["cmid"], finished_attempts[username]))
        page.check(f"input[name=conclusion][value={conclusion}]")
        page.fill("#quizaccess_proctorpy-comment", comment)
        page.click("form button:has-text('Save')")
        page.wait_for_load_state()
        assert "The review conclusion was saved." in page.inner_text("#page-content")
        review = page.locator(".quizaccess_proctorpy-fragment .ppr-review")
        assert comment in review.inner_text()
        journey.shot(page, f"teacher-review-{username}-{conclusion}")
        assert journey.attempt_json(finished_attempts[username])["review"]["conclusion"] == conclusion

    page.goto(journey.report_url(course["cmid"]))
    row = page.locator(".quizaccess_proctorpy-fragment tbody tr", has_text="Joe Biden").first.inner_text()
    assert "rejected" in row
    journey.shot(page, "teacher-overview-reviewed")
    check_overview_layout(journey, page, "teacher-overview-reviewed")
    page.context.close()


def test_non_editing_teacher_reads_the_reports(journey, course, finished_attempts):
    page = journey.login("nonediting")
    page.goto(journey.report_url(course["cmid"]))
    assert page.locator(".quizaccess_proctorpy-fragment tbody tr").count() == 4
    assert debugging_output(page) == []
    journey.shot(page, "nonediting-overview")
    page.goto(journey.report_url(course["cmid"], finished_attempts["student2"]))
    assert "Joe Biden" in page.inner_text("#region-main")
    assert images_loaded(page) == []
    # Reading only: no review form, no PDF (the images) for a non-editing teacher.
    assert page.locator("input[name=conclusion]").count() == 0
    assert page.locator("a:has-text('Download PDF')").count() == 0
    journey.shot(page, "nonediting-report-student2")
    page.context.close()


LIVE_TILES = """Array.from(document.querySelectorAll('[data-region=tile]')).map((tile) => ({
    attempt: Number(tile.dataset.attemptid), camshot: tile.dataset.camshotid, problems: tile.dataset.problems,
    image: tile.querySelector('img') ? tile.querySelector('img').getAttribute('src') : ''}))"""


def live_tiles(page):
    """The live view's tiles in order: attempt id, camshot id, problems, thumbnail address."""
    return page.evaluate(LIVE_TILES)


@pytest.mark.every_moodle
def test_teacher_watches_the_exam_live(journey, course):
    # A quiz of its own, in progress: Rose Leslie's camera sent two camshots, then went quiet.
    quiz = journey.proctored_quiz("Watched live (proctored)")
    waiting = journey.cli("start", quiz["quiz"], "student4", ROSE, 2)["attempt"]
    # The live view's button sits beside the report's.
    teacher = journey.login("teacher")
    teacher.goto(f"{journey.site.url}/mod/quiz/view.php?id={quiz['cmid']}")
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
    assert opened == [("Grace Hopper", json.dumps({"quiz_id": int(quiz["quiz"])}))], opened
    get_live = []
    teacher.on("request", lambda request: get_live.append(request.url)
               if "quizaccess_proctorpy_get_live" in request.url + (request.post_data or "") else None)
    # Gone if the page reloads.
    teacher.evaluate("window.proctorpyLoadedOnce = true")

    # Kit Harington starts an attempt: his tile appears without a reload.
    student, attempt_id = start_attempt(journey, quiz["cmid"], "student3", "kit", "student3-live")
    answer(student, 1)
    tile = f"[data-region=tile][data-attemptid='{attempt_id}']"
    teacher.wait_for_selector(tile, timeout=30000)
    assert {waiting, attempt_id} <= {t["attempt"] for t in live_tiles(teacher)}

    # Its camshot changes while the attempt runs, and the thumbnail with it.
    def shown_camshot():
        found = [t for t in live_tiles(teacher) if t["attempt"] == attempt_id]
        return found and found[0]["camshot"] and found[0]
    first = wait_for(shown_camshot, 60, "the first camshot on Kit Harington's tile")
    assert f"/image.php/{quiz['cmid']}/{attempt_id}/{first['camshot']}" in first["image"], first
    later = wait_for(lambda: (t := shown_camshot()) and t["camshot"] != first["camshot"] and t, 60,
                     "a later camshot on Kit Harington's tile")
    assert later["image"] != first["image"]
    assert images_loaded(teacher) == []

    # Rose Leslie's camera is quiet: her tile has a problem and comes first.
    def problems_by_attempt():
        return {t["attempt"]: t["problems"] for t in live_tiles(teacher)}
    wait_for(lambda: "camera_quiet" in problems_by_attempt().get(waiting, "") and problems_by_attempt()[attempt_id] == "",
             60, "Rose Leslie's quiet camera, and no problem with Kit Harington's attempt")
    assert live_tiles(teacher)[0]["attempt"] == waiting
    assert "ppl-problem" in teacher.locator(f"[data-region=tile][data-attemptid='{waiting}']").get_attribute("class")
    journey.shot(teacher, "teacher-live-view")

    # Only the attempts that need attention now, and back.
    teacher.check("[data-action=flaggedonly]")
    wait_for(lambda: [t["attempt"] for t in live_tiles(teacher)] == [waiting], 30, "only Rose Leslie's tile")
    assert "flagged=1" in teacher.url
    assert "needing attention now: 1." in teacher.inner_text("[data-region=summary]")
    journey.shot(teacher, "teacher-live-view-attention-now")
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
    logs = (journey.site.fpm_log, journey.site.php_errors)
    log_sizes = {log: log_size(log) for log in logs}
    student.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/live.php?cmid={quiz['cmid']}")
    assert "do not currently have permissions" in student.inner_text("body")
    assert student.locator("[data-region=tile]").count() == 0
    student.context.close()

    seen = []

    def logged_whole():
        # The refusal's lines are all there once they name live.php and a second look finds no more.
        lines = [line for log, size in log_sizes.items() for line in log_text(log, size).splitlines()]
        whole = any("live.php" in line for line in lines) and seen[-1:] == [lines]
        seen.append(lines)
        return whole and lines
    refusal = wait_for(logged_whole, 10, "PHP's log of the refusal", interval=0.5)
    assert not [line for line in refusal if re.search(r"PHP (Warning|Notice|Deprecated|Fatal|Parse)", line)], refusal
    assert any("nopermissions" in line for line in refusal), refusal
    journey.browsers.expected_log_lines.update(refusal)


def rest(journey, token, function, **params):
    """One call of Moodle's REST server with a token: the decoded JSON answer."""
    response = requests.get(f"{journey.site.url}/webservice/rest/server.php", timeout=60, params={
        "wstoken": token, "wsfunction": function, "moodlewsrestformat": "json", **params})
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_teacher_lets_a_student_waiting_at_the_identity_step_go_on_from_the_live_view(journey, course):
    # Barack Obama's attempt has begun on a quiz with an identity step, and no photo has passed.
    quiz = journey.proctored_quiz("Identity watched live (proctored)", identitycheck="face")
    waiting = journey.cli("start", quiz["quiz"], "student1", OBAMA[0], 0)["attempt"]
    teacher = journey.login("teacher")
    teacher.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/live.php?cmid={quiz['cmid']}")
    tile = teacher.locator(f"[data-region=tile][data-attemptid='{waiting}']")
    tile.wait_for()
    # Said to wait at the identity check, not to have a quiet camera: no camshot is due before a photo passes.
    assert "Waiting at the identity check" in tile.locator("[data-region=identitywaiting]").inner_text()
    assert "camera_quiet" not in tile.get_attribute("data-problems")
    assert "ppl-problem" in tile.get_attribute("class")
    assert debugging_output(teacher) == []
    journey.shot(teacher, "teacher-live-view-identity-waiting")
    teacher.once("dialog", lambda dialog: dialog.accept())
    tile.locator("button:has-text('Let the attempt go on')").click()
    teacher.wait_for_url(f"**/report.php?cmid={quiz['cmid']}&attempt={waiting}")
    assert "The attempt goes on" in teacher.inner_text("#page-content")
    outcome = journey.psql(f"select outcome from mdl_quizaccess_proctorpy_idcheck where attemptid = {waiting}")
    assert outcome == "waived", outcome
    teacher.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/live.php?cmid={quiz['cmid']}")
    assert tile.locator("[data-region=identitywaiting]").count() == 0
    teacher.context.close()


def test_flagged_attempt_notifies_the_teacher_and_web_services_answer_with_a_token(journey, course, forwarded_attempt):
    # Barack Obama's attempt in a quiz of its own: an hour with no camshot is far below the threshold when he submits
    # it; the alert goes at the next run of Moodle's cron.
    name = "Retake (proctored)"
    quiz = journey.proctored_quiz(name)
    flagged = journey.cli("attempt", quiz["quiz"], "student1", OBAMA[0], 0, 60)["attempt"]
    score = journey.attempt_json(flagged)["score"]
    assert score["flagged"] and score["metrics"]["final"], score
    journey.site.cron()
    teacher_id = course["users"]["teacher"]
    # One notification per teacher who may read the report, none to anyone else; never twice for one attempt.
    about_it = ("select useridto || ' ' || contexturl from mdl_notifications where component = 'quizaccess_proctorpy' "
                f"and eventtype = 'attemptflagged' and customdata like '%\"attemptid\":{flagged}%' order by useridto")
    sent = journey.psql(about_it)
    recipients = sorted(int(line.split()[0]) for line in sent.splitlines())
    assert recipients == sorted([teacher_id, course["users"]["nonediting"]]), sent
    assert all(line.endswith(f"report.php?cmid={quiz['cmid']}&attempt={flagged}") for line in sent.splitlines()), sent
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
    assert name in item.inner_text() and "flagged" in item.inner_text().lower(), item.inner_text()
    journey.shot(page, "teacher-notification-popover", full_page=False)
    page.goto(f"{journey.site.url}/message/output/popup/notifications.php")
    area = page.locator("[data-region=notification-area]")
    area.locator("[data-region=notification-content-item-container]", has_text=subject).first.click()
    content = area.locator("[data-region=content-area]")
    wait_for(lambda: "the quiz's threshold is 70. The attempt is flagged" in content.inner_text(), 30,
             "the flagged attempt's notification on the notifications page")
    journey.shot(page, "teacher-notification-page")
    content.locator("a", has_text="Open the attempt's proctoring report").first.click()
    page.wait_for_url(f"**/accessrule/proctorpy/report.php?cmid={quiz['cmid']}&attempt={flagged}")
    assert "Barack Obama" in page.inner_text("#region-main")
    journey.shot(page, "teacher-report-from-notification")
    page.context.close()

    # The admin enables web services and REST, the service, and issues tokens: the teacher's, and a student's.
    token = journey.cli("wstoken", "teacher")["token"]
    student_token = journey.cli("wstoken", "student3")["token"]
    overview = rest(journey, token, "quizaccess_proctorpy_get_overview", cmid=quiz["cmid"])
    assert "exception" not in overview, overview
    rows = {row["attemptid"]: row for row in overview["attempts"]}
    assert flagged in rows and rows[flagged]["flagged"] and rows[flagged]["score"] == score["value"], overview
    # His attempt in the course's quiz, with the camshots and events of the browser.
    first = forwarded_attempt.attempt
    rows = {row["attemptid"]: row for row in rest(journey, token, "quizaccess_proctorpy_get_overview",
                                                   cmid=course["cmid"])["attempts"]}
    assert first in rows and rows[first]["shots"] >= 3, rows.get(first)
    assert {m["name"] for m in rows[first]["metrics"]} >= {"no_face", "camera_off", "focus_lost"}, rows[first]

    report = rest(journey, token, "quizaccess_proctorpy_get_attempt_report", cmid=course["cmid"], attemptid=first)
    assert "exception" not in report, report
    assert report["attempt"]["userid"] == course["users"]["student1"]
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
    (journey.browsers.folder / "web-service-overview.json").write_text(json.dumps(overview, indent=1))
    (journey.browsers.folder / "web-service-thumbnail.png").write_bytes(thumb.content)

    # A student's token: refused by both functions, and the image is not served. Moodle's exception handlers write
    # each refusal to PHP's error log (debugging is on), which php-fpm passes on as its workers' output: these four
    # are read here and the final check starts after them, so it is made here for what came before.
    earlier = journey.browsers.php_log_problems()
    assert earlier == [], "\n".join(earlier[:20])
    logs = (journey.site.fpm_log, journey.site.php_errors)
    marks = {log: log_size(log) for log in logs}
    refused = rest(journey, student_token, "quizaccess_proctorpy_get_overview", cmid=course["cmid"])
    assert refused.get("errorcode") == "nopermissions", refused
    refused = rest(journey, student_token, "quizaccess_proctorpy_get_attempt_report", cmid=course["cmid"],
                   attemptid=first)
    assert refused.get("errorcode") == "nopermissions", refused
    image = requests.get(shots[0]["thumburl"], params={"token": student_token}, timeout=60)
    assert not image.content.startswith(b"\x89PNG"), image.status_code
    # And no token at all is no access.
    assert rest(journey, "0" * 32, "quizaccess_proctorpy_get_overview", cmid=course["cmid"]).get(
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
    journey.browsers.skip_php_logs()
