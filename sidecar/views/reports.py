"""The signed report API: attempt report (HTML, PDF), quiz overview (JSON, HTML, CSV), review conclusion."""
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from .. import attempts, audit, live
from ..errors import BadRequest
from ..reports.overview import MAX_USER_IDS, SORT_KEYS, display_rows, load_rows, overview_params, select_rows, to_csv
from ..reports.pdf import render_pdf
from ..reports.render import attempt_report_html, quiz_overview_html
from ..reports.report import build_report, time_zone, url_prefix
from ..validation import id_list, positive_int
from .auth import moodle_actor, require_signed_request
from .connections import get_db
from .requests import json_body

bp = Blueprint("reports", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)


def _zone():
    return time_zone(request.args.get("tz"), current_app.config["PROCTORPY"]["reports.timezone"])


def _named_user_ids():
    """The students a report may name when it recognises them in the camshots (those the Moodle viewer may see),
    None for everyone."""
    if "named_user_ids" not in request.args:
        return None
    return id_list(request.args["named_user_ids"], "named_user_ids", MAX_USER_IDS)


def _html(body):
    return Response(body, mimetype="text/html", headers={"X-Content-Type-Options": "nosniff"})


@bp.get("/attempts/<attempt_id>/report")
def attempt_report(attempt_id):
    """The HTML fragment; images are <image_base><camshot id> and <image_base><camshot id>?size=thumb, the
    full-size ones linked only without full_size=0; another student recognised links to <link_base><attempt id>
    with link_base (the report page of an attempt of this quiz, which the viewer may open)."""
    attempt_id = positive_int(attempt_id, "attempt_id")
    config = current_app.config["PROCTORPY"]
    image_base = url_prefix(request.args.get("image_base", config["reports.image_base"]), "image_base")
    link_base = url_prefix(request.args.get("link_base", ""), "link_base")
    full_size = request.args.get("full_size", "1")
    named = _named_user_ids()
    if full_size not in ("0", "1"):
        raise BadRequest("full_size must be 1 (thumbnails link to the full-size image) or 0.", code="invalid_field")
    zone = _zone()
    db = get_db()
    report = build_report(db, config, attempt_id, zone, named)
    html = attempt_report_html(current_app.config["REPORT_TEMPLATES"], report, image_base, full_size == "1", link_base)
    audit.record(db, "report_view", moodle_actor(), audit.attempt_selection(report["attempt"]),
                 count=len(report["shots"]))
    return _html(html)


@bp.get("/attempts/<attempt_id>/report.pdf")
def attempt_report_pdf(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    config = current_app.config["PROCTORPY"]
    named = _named_user_ids()
    db = get_db()
    report = build_report(db, config, attempt_id, _zone(), named)
    pdf = render_pdf(db, report, current_app.config["IMAGES"], current_app.config["REPORT_TEMPLATES"])
    audit.record(db, "report_pdf_download", moodle_actor(), audit.attempt_selection(report["attempt"]),
                 count=len(report["shots"]), bytes=len(pdf))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="proctoring-attempt-{attempt_id}.pdf"',
        "X-Content-Type-Options": "nosniff",
    })


@bp.get("/quizzes/<quiz_id>/attempts")
def quiz_attempts(quiz_id):
    """Overview of a quiz's attempts; format json (default), html (fragment) or csv."""
    quiz_id = positive_int(quiz_id, "quiz_id")
    output = request.args.get("format") or "json"
    if output not in ("json", "html", "csv"):
        raise BadRequest("format must be json, html or csv.", code="invalid_field")
    params = overview_params(request.args)
    link_base = url_prefix(request.args.get("link_base", ""), "link_base")
    sort_base = url_prefix(request.args.get("sort_base", ""), "sort_base")
    zone = _zone()
    db = get_db()
    rows, total = select_rows(load_rows(db, quiz_id), params)
    selection = {"quiz_id": quiz_id, **{k: params[k] for k in ("flagged", "review", "q") if params[k]}}
    if output == "csv":
        body = to_csv(rows, zone)
        audit.record(db, "overview_csv_download", moodle_actor(), selection, count=len(rows), bytes=len(body))
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="proctoring-quiz-{quiz_id}.csv"',
        })
    audit.record(db, "overview_view", moodle_actor(), selection, count=len(rows))
    if output == "html":
        return _html(quiz_overview_html(current_app.config["REPORT_TEMPLATES"], quiz_id, display_rows(rows, zone),
                                        total, params, link_base, _sort_links(sort_base, params), zone))
    return jsonify(
        quiz_id=quiz_id, total=total, count=len(rows), page=params["page"], perpage=params["perpage"],
        sort=("-" if params["descending"] else "") + params["sort"], attempts=rows,
    )


@bp.get("/quizzes/<quiz_id>/live")
def quiz_live(quiz_id):
    """The quiz's attempts in progress for the live view, problems first.

    Audited when a teacher opens the live view (view=opened), not at each of its refreshes, which
    Moodle asks for every few seconds for every teacher watching.
    """
    quiz_id = positive_int(quiz_id, "quiz_id")
    params = live.live_params(request.args)
    view = request.args.get("view")
    if view not in (None, "opened"):
        raise BadRequest("view must be opened (a teacher opened the live view) or absent.", code="invalid_field")
    now = time.time()
    db = get_db()
    tiles = live.live_attempts(db, current_app.config["PROCTORPY"], quiz_id, params, now)
    if view == "opened":
        audit.record(db, "live_view", moodle_actor(), {"quiz_id": quiz_id}, count=len(tiles))
    return jsonify(quiz_id=quiz_id, now=now, minutes=params["minutes"], count=len(tiles), attempts=tiles)


def _sort_links(sort_base, params):
    """Per column, the address that sorts by it (the other way round if it is the current sort)."""
    if not sort_base:
        return {}
    kept = {k: params[k] for k in ("flagged", "review") if params[k]}
    if params["q"]:
        kept["q"] = params["q"]
    links = {}
    for key in SORT_KEYS:
        descending = not params["descending"] if key == params["sort"] else False
        links[key] = sort_base + urlencode({"sort": key, "dir": "desc" if descending else "asc", **kept})
    return links


@bp.post("/attempts/<attempt_id>/review")
def review_attempt(attempt_id):
    """Record the teacher's conclusion; every change goes to the audit log with what it replaced."""
    attempt_id = positive_int(attempt_id, "attempt_id")
    body = json_body()
    fields = attempts.review_fields(body)
    return jsonify(attempts.record_review(get_db(), attempt_id, fields, moodle_actor(body)))
