"""Attempt reports (HTML, PDF), the quiz overview (JSON, HTML, CSV) and review conclusions."""
import csv
import io
import json
import re
import subprocess
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote

import pytest
from PIL import Image

from conftest import SECRET, SignedTestClient, convert_originals, face_bytes
from sidecar.client import SidecarError, multipart
from sidecar.db import connect
from sidecar.errors import BadRequest
from sidecar.reports.overview import overview_params
from sidecar.reports.report import time_zone, url_prefix
from sidecar.signing import signed_headers

START = 1_700_000_000  # unix seconds; 2023-11-14 22:13:20 UTC
EVIL = '<script>alert("x")</script>&'

# Per camshot of the realistic attempt: the photo and the verdict the analysis would have written.
PLAN = (
    [("obama/obama.jpg", "ok")] * 4
    + [("noface/coffee.png", "no_face")] * 2
    + [("obama/obama2.jpg", "ok")] * 3
    + [("multi/two_people.jpg", "multiple_faces")]
    + [("obama/obama1.jpg", "ok")] * 4
    + [("biden/biden.jpg", "mismatch")]
    + [("biden/biden2.jpg", "substitution")]
    + [("obama/obama3.jpg", "ok")] * 2
    + [None] * 3  # camera off: no camshot for 90 s
    + [("obama/obama-480p.jpg", "ok")] * 3
)


def db_of(app):
    return connect(app.config["DATABASE"])


def seed_attempt(app, api, attempt_id=1, user_id=7, quiz_id=11, finish=True, **fields):
    """A 12-minute attempt: real camshots from the shared faces, verdicts set as the analysis would.

    Returns the camshot ids in time order (None where the plan has no camshot).
    """
    api.put_attempt(attempt_id, user_id=user_id, quiz_id=quiz_id, started_at=START, interval_min=20,
                    interval_max=40, **fields)
    db = db_of(app)
    ids = []
    try:
        for index, step in enumerate(PLAN):
            if step is None:
                ids.append(None)
                continue
            photo, status = step
            response = api.post_camshot(face_bytes(photo, width=320), attempt_id=attempt_id, user_id=user_id,
                                        taken_at=(START + 5 + 30 * index) * 1000, client_shot_id=f"s{index}")
            assert response.status_code == 201, response.json
            shot = response.json
            faces = {"ok": 1, "no_face": 0, "multiple_faces": 2}.get(status, 1)
            boxes = [[40 + 20 * f, 120 + 120 * f, 140 + 20 * f, 40 + 120 * f] for f in range(faces)]
            db.execute(
                "UPDATE camshots SET status = ?, faces = ?, boxes = ?, distance = ?, matched_user_id = ?, "
                "analysed_at = 1 WHERE id = ?",
                ["mismatch" if status == "substitution" else status, faces, json.dumps(boxes),
                 0.35 if status == "ok" else (0.8 if faces == 1 else None), 8 if status == "substitution" else None,
                 shot["id"]],
            )
            ids.append(shot["id"])
        db.execute("UPDATE jobs SET state = 'done'")
    finally:
        db.close()
    for offset, kind in ((400, "tab_hidden"), (460, "tab_visible"), (600, "focus_lost"), (615, "focus_back")):
        event = {"attempt_id": attempt_id, "user_id": user_id, "type": kind, "at": (START + offset) * 1000,
                 "client_event_id": f"e{offset}"}
        assert api.json("POST", "/api/v1/events", event).status_code == 201
    if finish:
        assert api.json("POST", f"/api/v1/attempts/{attempt_id}/finish", {"finished_at": START + 720}).status_code == 200
    return ids


class Elements(HTMLParser):
    """Start tags with their attributes and the text, to check structure rather than substrings."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.text = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(
            a.get(k.rstrip("_")) is not None and v in a.get(k.rstrip("_")).split() for k, v in attrs.items())]


def audit_rows(app, action):
    db = db_of(app)
    try:
        return [dict(zip(("actor_type", "actor_id", "actor_name", "selection", "count", "bytes", "detail"), r))
                for r in db.execute("SELECT actor_type, actor_id, actor_name, selection, count, bytes, detail "
                                    "FROM audit_log WHERE action = ? ORDER BY id", [action])]
    finally:
        db.close()


# --- the attempt report ---------------------------------------------------------------------------

@pytest.mark.engines
def test_report_shows_the_attempt(app, api):
    ids = seed_attempt(app, api)
    response = api.get("/api/v1/attempts/1/report?image_base=/mod/quiz/accessrule/proctorpy/image.php/42/1/"
                       "&actor_id=3&actor_name=Teacher%20T")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    page = Elements(html)
    text = " ".join(page.text)
    # Header.
    assert "Ada Lovelace" in text and "Midterm" in text and "Analytical Engines" in text
    assert "2023-11-14 22:13:20 UTC" in text and "12 min 00 s" in text
    # The score with this attempt's numbers: 720 s; no face 60 s, several 30 s, mismatch 30 s,
    # another student 30 s, camera off 50 s (a 120 s gap, 70 s due), focus lost 60 + 15 s.
    score = api.get("/api/v1/attempts/1").json["score"]
    metrics = score["metrics"]
    assert metrics["seconds"] == {"no_face": 60, "multiple_faces": 30, "mismatch": 30, "substitution": 30,
                                  "camera_off": 50, "focus_lost": 75}
    # The formula names the metrics as the table does, with this attempt's weights and shares.
    assert ("Score = max(0, 100 − (1 × 8.3 % No face + 1.5 × 4.2 % Several faces + 2 × 4.2 % Face mismatch + "
            "3 × 4.2 % Another student + 1 × 6.9 % Camera off + 0.5 × 10.4 % Focus lost / tab hidden)) "
            f"= max(0, 100 − 47.6) = {score['value']:.1f}") in text
    assert "% substitution" not in text and "E = " not in text
    assert f"Credibility score {score['value']:.1f}" in text
    # Every number is explained: the zone of the times, the table's columns, the face distance under a camshot.
    assert "Times are in UTC (UTC+00:00)" in text
    assert "Time: how long the metric was in violation. Share: that time as a percentage" in text
    distances = [a for a in page.find("span", class_="ppr-note") if a.get("title", "").startswith("Face distance")]
    assert distances and all("over 0.60 the face is taken for another person" in a["title"] for a in distances)
    # Timeline: one rect per minute (12) plus the background, colours from green to red.
    svg = page.find("svg", class_="ppr-timeline")
    assert len(svg) == 1
    minute_rects = [a for t, a in page.tags if t == "rect" and a.get("fill", "").startswith("hsl(")]
    assert len(minute_rects) == 12
    assert "hsl(120, 70%, 38%)" in [a["fill"] for a in minute_rects]  # a clean minute
    assert any(a["fill"] != "hsl(120, 70%, 38%)" for a in minute_rects)
    # Its text alternative names the minutes in violation, one per minute not green.
    label = svg[0]["aria-label"]
    assert label.startswith("Per-minute timeline of 12 minutes") and " In violation: minute " in label, label
    assert len(re.findall(r"minute \d+ \d+ %", label)) == sum(a["fill"] != "hsl(120, 70%, 38%)" for a in minute_rects)
    # Events.
    assert "Tab hidden" in text and "Window focused again" in text and "+06:40" in text
    # Camshot grid: one figure per camshot, thumbnails and full images under image_base, boxes drawn.
    shots = page.find("figure", class_="ppr-shot")
    assert len(shots) == sum(1 for i in ids if i)
    assert len(page.find("figure", class_="ppr-counted")) == 5  # no face 2, several faces, mismatch, another student
    assert "Only those counted against the score (5 of 21)" in text
    base = "/mod/quiz/accessrule/proctorpy/image.php/42/1/"
    assert [a["src"] for a in page.find("img") if "size=thumb" in a["src"]] == [f"{base}{i}?size=thumb" for i in ids if i]
    assert f'href="{base}{ids[0]}"' in html
    assert len(page.find("span", class_="ppr-box")) == sum(2 if s and s[1] == "multiple_faces" else 0 if s and s[1] == "no_face" else 1 for s in PLAN if s)
    assert "Another student" in text and "No face" in text and "Several faces" in text
    # No script, no external asset, a CSS-only filter.
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    assert page.find("input", type="checkbox")
    assert "Not reviewed yet." in text


@pytest.mark.engines
def test_report_view_is_audited_with_the_moodle_actor(app, api):
    seed_attempt(app, api)
    api.get("/api/v1/attempts/1/report?actor_id=3&actor_name=Teacher%20T")
    [row] = audit_rows(app, "report_view")
    assert (row["actor_type"], row["actor_id"], row["actor_name"]) == ("moodle", "3", "Teacher T")
    assert json.loads(row["selection"]) == {"attempt_id": 1, "user_id": 7, "quiz_id": 11, "course_id": 3}
    assert row["count"] == 21


@pytest.mark.engines
def test_report_references_and_substitute_names(app, api):
    seed_attempt(app, api)
    api.put_attempt(2, user_id=8, user_fullname="Charles Babbage")
    db = db_of(app)
    try:
        db.execute("INSERT INTO reference_photos (id, user_id, source, path, bytes, created_at) "
                   "VALUES ('aaaaaaaaaaaaaaaaaaaa', 7, 'profile', 'references/7/aaaaaaaaaaaaaaaaaaaa.png', 1, 1)")
    finally:
        db.close()
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "Moodle profile photo" in html
    assert 'src="images/aaaaaaaaaaaaaaaaaaaa?size=thumb"' in html  # the default image_base
    assert "Another student: Charles Babbage" in html


@pytest.mark.engines
def test_a_recognised_student_is_named_only_if_the_viewer_may_see_them(app, api, tmp_path):
    seed_attempt(app, api)
    api.put_attempt(2, user_id=8, user_fullname="Charles Babbage")
    for query, named in (("?named_user_ids=7,8", True), ("?named_user_ids=7", False)):
        html = api.get("/api/v1/attempts/1/report" + query).get_data(as_text=True)
        assert ("Another student: Charles Babbage" in html) is named
        assert ("Another student of this course" in html) is not named
        assert "Babbage" not in html or named
    pages, texts = pdf_pages(tmp_path, api.get("/api/v1/attempts/1/report.pdf?named_user_ids=7").data)
    text = " ".join("".join(texts).split())  # a badge may wrap
    assert "Babbage" not in text and "Another student of this course" in text
    for path in ("/api/v1/attempts/1/report", "/api/v1/attempts/1/report.pdf"):
        assert api.get(path + "?named_user_ids=").json["error"] == "invalid_field"


@pytest.mark.engines
def test_a_recognised_student_links_to_their_attempt_where_the_viewer_may_see_them(app, api):
    """Another student named in a camshot's badge links to their attempt at the same quiz, under link_base."""
    seed_attempt(app, api)
    api.put_attempt(2, user_id=8, user_fullname="Charles Babbage", quiz_id=11)
    base = "/api/v1/attempts/1/report?link_base=report.php%3Fcmid%3D42%26attempt%3D"
    page = Elements(api.get(base + "&named_user_ids=7,8").get_data(as_text=True))
    assert [(a["href"], a["class"]) for a in page.find("a", class_="ppr-st-substitution")] == [
        ("report.php?cmid=42&attempt=2", "ppr-badge ppr-st-substitution")]
    # Not named, not linked; without link_base, named but not linked.
    assert not Elements(api.get(base + "&named_user_ids=7").get_data(as_text=True)).find("a", class_="ppr-badge")
    unlinked = api.get("/api/v1/attempts/1/report?named_user_ids=7,8").get_data(as_text=True)
    assert "Another student: Charles Babbage" in unlinked and not Elements(unlinked).find("a", class_="ppr-badge")
    refused = api.get("/api/v1/attempts/1/report?link_base=javascript:alert(1)//")
    assert refused.status_code == 400 and "link_base" in refused.json["message"]


# Prefixes that could be more than a link: a scheme that runs or embeds, a quote, space or angle bracket that
# leaves the attribute, a UNC path, more than 500 characters.
UNSAFE_PREFIXES = [
    "javascript:alert(1)//", "JavaScript:alert(1)", "data:text/html,x", '/a"onerror="x', "/a'b", "/a b",
    "/a<b", "vbscript:x", "ftp://host/", "x" * 501, "\\\\host\\share", '"onclick=',
]


@pytest.mark.parametrize("value", UNSAFE_PREFIXES)
def test_url_prefixes_that_could_be_more_than_a_link_are_refused(value):
    with pytest.raises(BadRequest) as refused:
        url_prefix(value, "image_base")
    assert refused.value.code == "invalid_field" and "image_base" in refused.value.message


@pytest.mark.parametrize("image_base", ["javascript:alert(1)//", "x" * 501])
def test_unsafe_image_base_is_refused(seeded, image_base):
    """The route refuses through url_prefix before it builds the report, and audits no view."""
    views = len(audit_rows(seeded.app, "report_view"))
    response = seeded.api.get("/api/v1/attempts/1/report?image_base=" + quote(image_base, safe=""))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_field" and "image_base" in response.json["message"]
    assert len(audit_rows(seeded.app, "report_view")) == views


@pytest.mark.parametrize("image_base", ["", "images/", "../image.php?file=/1/2/", "https://moodle.example.edu/x/",
                                        "http://127.0.0.1:8080/image.php/1/2/"])
def test_safe_image_bases_are_used_as_given(seeded, image_base):
    assert url_prefix(image_base, "image_base") == image_base
    html = seeded.api.get("/api/v1/attempts/1/report?image_base=" + quote(image_base, safe="")).get_data(as_text=True)
    assert f'src="{image_base}{seeded.ids[0]}?size=thumb"'.replace("&", "&amp;") in html


@pytest.mark.parametrize("full_size, linked", [("", True), ("&full_size=1", True), ("&full_size=0", False)])
def test_thumbnails_link_to_the_full_size_image_unless_told_not_to(seeded, full_size, linked):
    ids = seeded.ids
    html = seeded.api.get("/api/v1/attempts/1/report?image_base=/img/" + full_size).get_data(as_text=True)
    assert f'src="/img/{ids[0]}?size=thumb"' in html
    assert (f'href="/img/{ids[0]}"' in html) == linked
    assert ('<span class="ppr-thumb" style="aspect-ratio:' in html) != linked
    assert "?size=thumb" in html.split('class="ppr-refs"')[1].split("</figure>")[0]  # the profile photo too


@pytest.mark.parametrize("path, status, code", [
    ("/api/v1/attempts/1/report?full_size=yes", 400, "invalid_field"),
    ("/api/v1/attempts/999/report", 404, "unknown_attempt"),
    ("/api/v1/attempts/abc/report", 400, "invalid_field"),
    ("/api/v1/attempts/0/report.pdf", 400, "invalid_field"),
    ("/api/v1/attempts/1/report?tz=Mars/Olympus", 400, "invalid_field"),
    ("/api/v1/attempts/1/report?tz=../../etc/passwd", 400, "invalid_field"),
    ("/api/v1/attempts/999/report.pdf", 404, "unknown_attempt"),
])
def test_report_refusals(seeded, path, status, code):
    response = seeded.api.get(path)
    assert response.status_code == status
    assert response.json["error"] == code and response.json["message"]


@pytest.mark.parametrize("path", ["/api/v1/attempts/1/report", "/api/v1/attempts/1/report.pdf",
                                  "/api/v1/quizzes/11/attempts", "/api/v1/quizzes/11/attempts?format=csv"])
def test_reports_need_a_signed_request(seeded, path):
    client = seeded.app.test_client()
    response = client.get(path)
    assert response.status_code == 401 and response.json["error"]
    headers = signed_headers(SECRET, "GET", path)
    assert client.get(path, headers=headers).status_code == 200
    replay = client.get(path, headers=headers)
    assert replay.status_code == 401 and replay.json["error"] == "replayed_nonce"


def test_times_follow_the_viewers_time_zone(seeded, tmp_path):
    """The report, its PDF and the overview show times in the zone Moodle names, and say which."""
    html = seeded.api.get("/api/v1/attempts/1/report?tz=Europe/Paris").get_data(as_text=True)
    assert "2023-11-14 23:13:20 CET" in html and "Times are in Europe/Paris (UTC+01:00)" in html
    _, texts = pdf_pages(tmp_path, seeded.api.get("/api/v1/attempts/1/report.pdf?tz=Asia/Tokyo").data)
    assert "2023-11-15 07:13:20 JST" in texts[0] and "Times are in Asia/Tokyo (UTC+09:00)" in texts[0]
    overview = seeded.api.get("/api/v1/quizzes/11/attempts?format=html&tz=America/New_York").get_data(as_text=True)
    assert "2023-11-14 17:13:20 EST" in overview and "Times are in America/New_York." in overview
    for path in ("/api/v1/attempts/1/report", "/api/v1/attempts/1/report.pdf", "/api/v1/quizzes/11/attempts"):
        refused = seeded.api.get(path + "?tz=Europe/Atlantis")
        assert refused.status_code == 400 and "tz must be an IANA time zone name" in refused.json["message"]


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "Nowhere", "Europe/" + "x" * 64, "UTC; rm"])
def test_time_zones_that_are_not_iana_names_are_refused(name):
    with pytest.raises(BadRequest) as refused:
        time_zone(name, "UTC")
    assert refused.value.code == "invalid_field" and "tz must be an IANA time zone name" in refused.value.message


def test_the_time_zone_is_the_callers_else_the_setting():
    assert (str(time_zone("Europe/Paris", "UTC")), str(time_zone(None, "UTC")), str(time_zone("", "UTC"))) == (
        "Europe/Paris", "UTC", "UTC")


@pytest.mark.engines
def test_a_short_attempt_says_why_it_has_no_score(app, api):
    api.put_attempt(1, started_at=START)
    api.post_camshot(face_bytes("obama/obama.jpg", width=320), taken_at=(START + 5) * 1000)
    api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": START + 40})
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "No credibility score." in html
    assert "The attempt lasted 40 s, under the 60 s needed for a meaningful score." in html
    overview = api.get("/api/v1/quizzes/11/attempts").json["attempts"][0]
    assert overview["score"] is None and "40 s" in overview["score_note"]


@pytest.mark.engines
def test_an_unanalysed_attempt_says_so(app, api):
    api.put_attempt(1, started_at=START)
    for i in range(4):
        api.post_camshot(face_bytes("obama/obama.jpg", width=320), taken_at=(START + 30 * i) * 1000)
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "4 camshot(s) are not analysed yet" in html
    assert "The attempt is not finished" in html
    assert html.count('class="ppr-badge ppr-st-pending"') == 4


# --- the PDF ----------------------------------------------------------------------------------------

def pdf_pages(tmp_path, pdf):
    """PNG pages of a PDF through pdftoppm, and its text per page through pdftotext."""
    (tmp_path / "report.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    return pages, text.split("\f")[:len(pages)]


@pytest.mark.engines
def test_pdf_is_a4_with_the_attempt_on_every_page(app, api, tmp_path):
    seed_attempt(app, api)
    response = api.get("/api/v1/attempts/1/report.pdf?actor_id=3&actor_name=Teacher")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="proctoring-attempt-1.pdf"' in response.headers["Content-Disposition"]
    pdf = response.data
    assert pdf.startswith(b"%PDF-")
    pages, texts = pdf_pages(tmp_path, pdf)
    assert len(pages) == 2, texts  # summary; the 5 camshots counted against the score, then the 16 others
    for png in pages:
        with Image.open(png) as page:
            # A4 is 210 x 297 mm: at 40 dpi, 331 x 468 pixels.
            assert page.size == (331, 468)
    for number, text in enumerate(texts, start=1):
        assert "attempt 1" in text and f"Page {number} of 2" in text and "Ada Lovelace" in text
    assert "Credibility score" in texts[0] and "Timeline" in texts[0] and "dist.: the face distance" in texts[0]
    assert "Camshots counted against the score (5)" in texts[1] and "Other camshots (16)" in texts[1]
    [row] = audit_rows(app, "report_pdf_download")
    assert row["bytes"] == len(pdf) and row["actor_id"] == "3" and row["count"] == 21


@pytest.mark.engines
def test_pdf_embeds_the_images_and_survives_a_missing_file(app, api, tmp_path):
    ids = seed_attempt(app, api)
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    db = db_of(app)
    try:
        path = db.execute("SELECT path FROM camshots WHERE id = ?", [ids[0]]).fetchone()[0]
    finally:
        db.close()
    app.config["IMAGES"].delete(path)
    pdf = api.get("/api/v1/attempts/1/report.pdf").data
    (tmp_path / "r.pdf").write_bytes(pdf)
    listing = subprocess.run(["pdfimages", "-list", str(tmp_path / "r.pdf")], capture_output=True, text=True,
                             check=True).stdout
    images = [line.split() for line in listing.splitlines()[2:]]
    # 20 readable camshots as JPEG thumbnails; the missing one is a placeholder drawing, not an image.
    assert sum(1 for i in images if i[2] == "image" and i[8] == "jpeg") == 20
    assert all(int(i[3]) == 240 for i in images if i[2] == "image")


# --- the realistic attempt, analysed by the real face models ------------------------------------------

@pytest.mark.slow
def test_real_analysis_end_to_end(app, api, config, tmp_path):
    from sidecar.analysis.worker import work

    api.put_attempt(1, started_at=START, interval_min=20, interval_max=40)
    api.put_attempt(2, user_id=8, user_fullname="Joe Biden", started_at=START)
    for user, photo in ((7, "obama/obama.jpg"), (8, "biden/biden.jpg")):
        body, ctype = multipart({}, {"image": ("p.jpg", face_bytes(photo, fmt="JPEG"), "image/jpeg")})
        assert api.open("PUT", f"/api/v1/users/{user}/reference", body, ctype).status_code == 200
    photos = ["obama/obama2.jpg", "noface/coffee.png", "multi/two_people.jpg", "biden/biden2.jpg",
              "kit_harington/john1.jpeg", "obama/obama-720p.jpg"]
    for index, photo in enumerate(photos):
        response = api.post_camshot(face_bytes(photo, width=480), taken_at=(START + 30 * index) * 1000)
        assert response.status_code == 201
    api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": START + 180})
    assert work(config, until_idle=True) == len(photos)
    detail = api.get("/api/v1/attempts/1").json
    statuses = [(s["status"], s["matched_user_id"]) for s in detail["shots"]]
    # Obama beside Biden: several faces, one of them another student of the quiz.
    assert statuses == [("ok", None), ("no_face", None), ("multiple_faces", 8), ("mismatch", 8),
                        ("mismatch", None), ("ok", None)]
    # The worker recomputed the stored score after the last verdict: each shot stands for 30 s of 180.
    metrics = detail["score"]["metrics"]
    assert metrics["percent"]["no_face"] == metrics["percent"]["mismatch"] == 16.67
    assert metrics["percent"]["substitution"] == 33.33
    assert metrics["final"] is True
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "Another student: Joe Biden" in html and "Moodle profile photo" in html
    assert html.count('class="ppr-box"') >= 5  # faces found are boxed
    pages, texts = pdf_pages(tmp_path, api.get("/api/v1/attempts/1/report.pdf").data)
    assert len(pages) == 2 and "Camshots counted against the score (4)" in texts[1] and "Other camshots (2)" in texts[1]


# --- the quiz overview ------------------------------------------------------------------------------

def seed_quiz(app, api):
    """Three attempts at quiz 11 with different scores and reviews, one at another quiz; attempt 1's camshot ids."""
    ids = seed_attempt(app, api, 1, user_id=7)
    api.put_attempt(2, user_id=8, user_fullname="Charles Babbage", started_at=START + 100, interval_max=40)
    api.json("POST", "/api/v1/attempts/2/finish", {"finished_at": START + 400})  # no camshot: camera off
    api.put_attempt(3, user_id=9, user_fullname="Grace Hopper", started_at=START + 50, interval_max=40)
    for i in range(10):
        api.post_camshot(face_bytes("obama/obama.jpg", width=160), attempt_id=3, user_id=9,
                         taken_at=(START + 50 + 30 * i) * 1000)
    db = db_of(app)
    db.execute("UPDATE camshots SET status = 'ok' WHERE attempt_id = 3")
    db.close()
    api.json("POST", "/api/v1/attempts/3/finish", {"finished_at": START + 350})
    api.put_attempt(4, user_id=10, quiz_id=12, started_at=START)
    api.json("POST", "/api/v1/attempts/1/review", {"conclusion": "rejected", "reviewer_id": 3})
    api.json("POST", "/api/v1/attempts/3/review", {"conclusion": "accepted", "reviewer_id": 3})
    return ids


@pytest.fixture(scope="module")
def seeded(shared_app):
    """seed_quiz once, for the tests that only read reports and refusals (they add audit and nonce rows, which
    none of them counts from zero): the app, a signed client, attempt 1's camshot ids in time order."""
    api = SignedTestClient(shared_app.test_client())
    return SimpleNamespace(app=shared_app, api=api, ids=seed_quiz(shared_app, api))


def overview(api, query=""):
    response = api.get("/api/v1/quizzes/11/attempts" + query)
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.engines
def test_overview_lists_every_attempt_of_the_quiz(app, api):
    seed_quiz(app, api)
    data = overview(api)
    assert data["total"] == 3 and data["count"] == 3 and data["sort"] == "score"
    rows = {r["attempt_id"]: r for r in data["attempts"]}
    assert set(rows) == {1, 2, 3}
    assert rows[1]["student"] == "Ada Lovelace" and rows[1]["shots"] == 21 and rows[1]["events"] == 4
    assert rows[1]["percent"]["no_face"] == round(100 * 60 / 720, 2)
    assert rows[1]["review"] == "rejected" and rows[3]["review"] == "accepted" and rows[2]["review"] is None
    assert rows[3]["score"] == 100.0 and rows[3]["flagged"] is False
    assert rows[2]["score"] == 23.3 and rows[2]["flagged"] is True  # 230 s of 300 camera off (70 s due)
    assert rows[1]["score"] == 52.4 and rows[1]["flagged"] is True
    assert [r["attempt_id"] for r in data["attempts"]] == [2, 1, 3]  # worst first by default


@pytest.mark.parametrize("query, expected", [
    ("?sort=-score", [3, 1, 2]),
    ("?sort=score&dir=desc", [3, 1, 2]),
    ("?sort=student", [1, 2, 3]),
    ("?sort=-student", [3, 2, 1]),
    ("?sort=started", [1, 3, 2]),
    ("?sort=-camera_off", [2, 1, 3]),
    ("?sort=shots", [2, 3, 1]),
    ("?flagged=1", [2, 1]),
    ("?flagged=0&sort=attempt", [3]),
    ("?review=none", [2]),
    ("?review=accepted", [3]),
    ("?q=hop", [3]),
    ("?search=LOVE", [1]),
    ("?q=nobody", []),
    ("?sort=attempt&perpage=2&page=2", [3]),
    ("?user_ids=7,9&sort=attempt", [1, 3]),
    ("?user_ids=8", [2]),
    ("?user_ids=10", []),  # a student of another quiz
    ("?user_ids=7,9&flagged=1", [1]),
])
def test_overview_sorts_and_filters(seeded, query, expected):
    assert [r["attempt_id"] for r in overview(seeded.api, query)["attempts"]] == expected


@pytest.mark.parametrize("query, name", [
    ("?sort=evil", "sort"), ("?dir=up", "dir"), ("?flagged=yes", "flagged"), ("?review=maybe", "review"),
    ("?page=0", "page"), ("?perpage=5000", "perpage"), ("?perpage=-1", "perpage"), ("?q=" + "x" * 101, "q"),
    ("?user_ids=", "user_ids"), ("?user_ids=7,,9", "user_ids"), ("?user_ids=7;9", "user_ids"),
    ("?user_ids=0", "user_ids"), ("?user_ids=-7", "user_ids"), ("?user_ids=" + ",".join(["7"] * 901), "user_ids"),
])
def test_overview_params_refuse_bad_values(query, name):
    with pytest.raises(BadRequest) as refused:
        overview_params(dict(parse_qsl(query[1:], keep_blank_values=True)))
    assert refused.value.code == "invalid_field" and name in refused.value.message


# The route's own checks (format), and one refusal of each validator it calls (overview_params, url_prefix for
# link_base and sort_base, time_zone), to show the wiring; the validators' other cases are tested above.
@pytest.mark.parametrize("query, name", [
    ("?format=xml", "format"), ("?sort=evil", "sort"), ("?user_ids=7;9", "user_ids"),
    ("?format=html&link_base=javascript:alert(1)//", "link_base"),
    ("?format=html&sort_base=%22onclick%3D", "sort_base"), ("?tz=Nowhere", "tz"),
])
def test_overview_refuses_bad_parameters(seeded, query, name):
    response = seeded.api.get("/api/v1/quizzes/11/attempts" + query)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_field" and name in response.json["message"]


def test_overview_of_an_unknown_quiz_is_empty_and_a_bad_id_refused(app, api):
    assert overview(api)["attempts"] == []
    assert api.get("/api/v1/quizzes/x/attempts").status_code == 400


def test_overview_html_fragment(seeded):
    html = seeded.api.get("/api/v1/quizzes/11/attempts?format=html&link_base=report.php%3Fcmid%3D42%26attempt%3D"
                   "&sort_base=report.php%3Fcmid%3D42%26&sort=-score").get_data(as_text=True)
    page = Elements(html)
    rows = [a for t, a in page.tags if t == "tr"][1:]
    assert len(rows) == 3
    assert [a.get("class") for a in rows] == [None, "ppo-flagged", "ppo-flagged"]
    links = [a["href"] for a in page.find("a")]
    assert "report.php?cmid=42&attempt=3" in links
    assert "report.php?cmid=42&sort=score&dir=asc" in links  # the current sort, the other way round
    assert "report.php?cmid=42&sort=student&dir=asc" in links
    text = " ".join(page.text)
    assert "3 of 3 attempts" in text and "rejected" in text and "not reviewed" in text and "flagged" in text
    # What the teacher decides on comes right after the name; every column says what it counts.
    heads = re.findall(r"<th[^>]*>(?:<a [^>]*>)?([^<▲▼]+)", html)
    assert [h.strip() for h in heads[:5]] == ["Student", "Score", "Flagged", "Review", "Started"]
    assert all(a.get("title") for a in page.find("th", class_="ppo-num"))


@pytest.mark.engines
def test_overview_csv(app, api):
    seed_quiz(app, api)
    response = api.get("/api/v1/quizzes/11/attempts?format=csv&sort=attempt&actor_id=5")
    assert response.mimetype == "text/csv"
    assert 'filename="proctoring-quiz-11.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["attempt_id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["student"] == "Ada Lovelace" and rows[0]["shots"] == "21" and rows[0]["review"] == "rejected"
    assert rows[1]["camera_off_percent"] == "76.67" and rows[1]["flagged"] == "1" and rows[1]["score"] == "23.3"
    assert rows[0]["started"] == "2023-11-14 22:13:20 UTC"
    [row] = audit_rows(app, "overview_csv_download")
    assert row["actor_id"] == "5" and row["count"] == 3 and row["bytes"] == len(response.data)


def test_overview_csv_and_html_of_chosen_students(seeded):
    rows = list(csv.DictReader(io.StringIO(
        seeded.api.get("/api/v1/quizzes/11/attempts?format=csv&sort=attempt&user_ids=8,9").get_data(as_text=True))))
    assert [r["attempt_id"] for r in rows] == ["2", "3"]
    html = seeded.api.get("/api/v1/quizzes/11/attempts?format=html&user_ids=7").get_data(as_text=True)
    assert "1 of 1 attempt." in " ".join(Elements(html).text) and "Babbage" not in html


@pytest.mark.engines
def test_overview_views_are_audited(app, api):
    seed_quiz(app, api)
    overview(api, "?flagged=1&actor_id=5&actor_name=T")
    api.get("/api/v1/quizzes/11/attempts?format=html&actor_id=5")
    rows = audit_rows(app, "overview_view")
    assert [json.loads(r["selection"]) for r in rows] == [{"quiz_id": 11, "flagged": "1"}, {"quiz_id": 11}]
    assert [r["count"] for r in rows] == [2, 3]


# --- the review conclusion -----------------------------------------------------------------------------

@pytest.mark.engines
def test_review_is_recorded_shown_and_every_change_audited(app, api):
    seed_attempt(app, api)
    first = api.json("POST", "/api/v1/attempts/1/review", {
        "conclusion": "rejected", "comment": "Another person at 07:35.", "reviewer_id": 3,
        "reviewer_name": "Teacher T", "actor_id": 3, "actor_name": "Teacher T"})
    assert first.status_code == 200 and first.json["previous"] is None
    second = api.json("POST", "/api/v1/attempts/1/review", {
        "conclusion": "accepted", "comment": "Twin brother, confirmed by phone.", "reviewer_id": 4,
        "reviewer_name": "Head T"})
    assert second.json["previous"] == "rejected"
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "Accepted" in html and "Head T" in html and "Twin brother, confirmed by phone." in html
    assert "Another person" not in html
    assert api.get("/api/v1/attempts/1").json["review"]["conclusion"] == "accepted"
    assert overview(api)["attempts"][0]["review"] == "accepted"
    rows = audit_rows(app, "review")
    assert [(r["actor_id"], r["actor_name"]) for r in rows] == [("3", "Teacher T"), ("4", "Head T")]
    assert rows[0]["detail"] == "rejected (first review); comment: Another person at 07:35."
    assert rows[1]["detail"] == "accepted (was rejected); comment: Twin brother, confirmed by phone."


@pytest.mark.parametrize("body, status, code", [
    ({}, 400, "missing_field"),
    ({"conclusion": "maybe"}, 400, "invalid_field"),
    ({"conclusion": "accepted", "comment": 5}, 400, "invalid_field"),
    ({"conclusion": "accepted", "comment": "x" * 4001}, 400, "invalid_field"),
    ({"conclusion": "accepted", "reviewer_id": "abc"}, 400, "invalid_field"),
    ({"conclusion": "accepted", "reviewer_id": -3}, 400, "invalid_field"),
    ({"conclusion": "accepted", "reviewer_name": ["x"]}, 400, "invalid_field"),
    ({"conclusion": ["accepted"]}, 400, "invalid_field"),
])
def test_bad_reviews_are_refused_and_change_nothing(app, api, body, status, code):
    api.put_attempt(1)
    response = api.json("POST", "/api/v1/attempts/1/review", body)
    assert response.status_code == status and response.json["error"] == code
    assert api.get("/api/v1/attempts/1").json["review"] is None
    assert audit_rows(app, "review") == []


def test_review_refusals_of_body_and_attempt(app, api):
    api.put_attempt(1)
    assert api.json("POST", "/api/v1/attempts/9/review", {"conclusion": "accepted"}).status_code == 404
    assert api.open("POST", "/api/v1/attempts/1/review", b"conclusion=accepted",
                    "application/x-www-form-urlencoded").json["error"] == "not_json"
    assert api.open("POST", "/api/v1/attempts/1/review", b'{"conclusion": "acc',
                    "application/json").json["error"] == "not_json"
    assert api.json("POST", "/api/v1/attempts/1/review", ["accepted"]).status_code == 400
    assert audit_rows(app, "review") == []


# --- user text is escaped everywhere ----------------------------------------------------------------------

def test_user_text_is_escaped_in_every_output(app, api, tmp_path):
    seed_attempt(app, api, user_fullname=EVIL, course_name=EVIL, quiz_name=EVIL)
    api.json("POST", "/api/v1/attempts/1/review", {"conclusion": "rejected", "comment": EVIL,
                                                   "reviewer_id": 3, "reviewer_name": EVIL})
    api.put_attempt(2, user_id=8, user_fullname=EVIL)  # the substitute's name shows on a badge
    outputs = [
        api.get("/api/v1/attempts/1/report").get_data(as_text=True),
        api.get("/api/v1/quizzes/11/attempts?format=html&q=" + "%3Cscript%3E").get_data(as_text=True),
        api.get("/api/v1/quizzes/11/attempts?format=html").get_data(as_text=True),
    ]
    for html in outputs:
        assert "<script" not in html.lower()
        assert "&lt;script&gt;" in html
    assert outputs[0].count("&lt;script&gt;") >= 6  # name, quiz, course, comment, reviewer, substitute
    # CSV: text, not markup, and a formula-looking name is defused.
    api.put_attempt(1, user_fullname="=HYPERLINK(\"http://x\")")
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/quizzes/11/attempts?format=csv").get_data(as_text=True))))
    assert {r["student"] for r in rows} == {"'=HYPERLINK(\"http://x\")", EVIL}
    # PDF: the name is printed as text.
    api.put_attempt(1, user_fullname=EVIL)
    pages, texts = pdf_pages(tmp_path, api.get("/api/v1/attempts/1/report.pdf").data)
    assert '<script>alert("x")</script>&' in texts[0]


# --- against a real gunicorn ---------------------------------------------------------------------------

@pytest.mark.engines
def test_reports_through_gunicorn(live_sidecar):
    sidecar = live_sidecar.client
    sidecar.put_attempt(1, user_id=7, user_fullname="Ada Lovelace", course_id=3, quiz_id=11, cm_id=42,
                        quiz_name="Midterm", started_at=START, interval_max=40)
    for i in range(6):
        sidecar.post_camshot(1, 7, (START + 30 * i) * 1000, face_bytes("obama/obama.jpg", width=320))
    sidecar.post_event(1, 7, "tab_hidden", (START + 100) * 1000)
    sidecar.finish_attempt(1, START + 180)
    status, html = sidecar.request("GET", "/api/v1/attempts/1/report?image_base=/img/")
    assert status == 200 and b'src="/img/' in html and b"Ada Lovelace" in html
    status, pdf = sidecar.request("GET", "/api/v1/attempts/1/report.pdf")
    assert status == 200 and pdf.startswith(b"%PDF-")
    status, data = sidecar.request("GET", "/api/v1/quizzes/11/attempts")
    assert data["attempts"][0]["events"] == 1
    status, review = sidecar.json("POST", "/api/v1/attempts/1/review", {"conclusion": "accepted"})
    assert review["conclusion"] == "accepted"
    with pytest.raises(SidecarError) as refused:
        sidecar.request("GET", "/api/v1/attempts/1/report?image_base=javascript:x")
    assert refused.value.status == 400
    assert re.search(rb"Tab hidden", html)
