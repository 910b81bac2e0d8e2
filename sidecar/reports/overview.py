"""The quiz overview: one row per attempt, sortable and filterable, as JSON, HTML or CSV."""
import csv
import io
import json

from .. import reference_changes
from ..errors import BadRequest
from ..validation import id_list, positive_int
from .report import clock, duration_text
from ..scoring import METRICS

# Sort keys a caller may name, and how each reads its value from a row.
SORT_KEYS = {
    "score": lambda r: r["score"],
    "started": lambda r: r["started_at"],
    "finished": lambda r: r["finished_at"],
    "student": lambda r: (r["student"] or "").casefold(),
    "duration": lambda r: r["duration_seconds"],
    "shots": lambda r: r["shots"],
    "events": lambda r: r["events"],
    "flagged": lambda r: r["flagged"],
    "review": lambda r: r["review"] or "",
    "attempt": lambda r: r["attempt_id"],
    **{m: (lambda r, m=m: r["percent"][m] if r["percent"] else None) for m in METRICS},
}
REVIEW_FILTERS = ("none", "accepted", "rejected")
MAX_PER_PAGE = 1000
# Students a viewer may see (Moodle's groups) are named in the query string: seven-digit ids fit in
# the request line gunicorn takes (server.py) with room for the other parameters.
MAX_USER_IDS = 900
CSV_COLUMNS = (
    ["attempt_id", "user_id", "student", "started", "finished", "duration_seconds", "shots"]
    + [f"{m}_percent" for m in METRICS]
    + ["events", "score", "flagged", "review", "reviewer", "score_note"]
)


def overview_params(args):
    """Sort, filters and page from the query string, each refused precisely when malformed."""
    sort = args.get("sort") or "score"
    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    if sort not in SORT_KEYS:
        raise BadRequest("sort must be one of: " + ", ".join(SORT_KEYS) + " (prefix - for descending).",
                         code="invalid_field")
    direction = args.get("dir") or ""
    if direction not in ("", "asc", "desc"):
        raise BadRequest("dir must be asc or desc.", code="invalid_field")
    if direction:
        descending = direction == "desc"
    flagged = args.get("flagged") or ""
    if flagged not in ("", "0", "1"):
        raise BadRequest("flagged must be 1 (flagged only) or 0 (not flagged only).", code="invalid_field")
    review = args.get("review") or ""
    if review and review not in REVIEW_FILTERS:
        raise BadRequest("review must be one of: " + ", ".join(REVIEW_FILTERS) + ".", code="invalid_field")
    search = args.get("q") or args.get("search") or ""
    if len(search) > 100:
        raise BadRequest("q is longer than 100 characters.", code="invalid_field")
    page = positive_int(args["page"], "page") if args.get("page") else 1
    per_page = positive_int(args["perpage"], "perpage") if args.get("perpage") else None
    if per_page is not None and per_page > MAX_PER_PAGE:
        raise BadRequest(f"perpage must be at most {MAX_PER_PAGE}.", code="invalid_field")
    user_ids = id_list(args["user_ids"], "user_ids", MAX_USER_IDS) if "user_ids" in args else None
    return {"sort": sort, "descending": descending, "flagged": flagged, "review": review, "q": search,
            "page": page, "perpage": per_page, "user_ids": user_ids}


def load_rows(db, quiz_id):
    """Every attempt of a quiz with its stored score, review and counts."""
    rows = []
    for r in db.execute(
        """
        SELECT a.id, a.user_id, u.fullname, a.started_at, a.finished_at,
               (SELECT count(*) FROM camshots c WHERE c.attempt_id = a.id) -
               (SELECT count(*) FROM camshots c WHERE c.attempt_id = a.id AND c.kind = 'identity'),
               (SELECT count(*) FROM events e WHERE e.attempt_id = a.id),
               s.value, s.flagged, s.metrics, v.conclusion, v.reviewer_name
        FROM attempts a
        JOIN users u ON u.id = a.user_id
        LEFT JOIN scores s ON s.attempt_id = a.id
        LEFT JOIN reviews v ON v.attempt_id = a.id
        WHERE a.quiz_id = ?
        """,
        [quiz_id],
    ):
        metrics = json.loads(r[9]) if r[9] else {}
        rows.append({
            "attempt_id": r[0], "user_id": r[1], "student": r[2], "started_at": r[3], "finished_at": r[4],
            "duration_seconds": metrics.get("duration_seconds"), "shots": r[5], "events": r[6],
            "percent": metrics.get("percent"), "score": r[7], "flagged": bool(r[8]),
            "score_note": metrics.get("reason") or ("" if r[9] else "not scored yet"),
            "reference_changes": [reference_changes.LABELS[kind] for kind in metrics.get("reference_changes", [])],
            "review": r[10], "reviewer": r[11],
        })
    return rows


def select_rows(rows, params):
    """Filter, sort (rows without the sort value last in either direction) and page."""
    if params["user_ids"] is not None:
        rows = [r for r in rows if r["user_id"] in params["user_ids"]]
    if params["flagged"]:
        rows = [r for r in rows if r["flagged"] == (params["flagged"] == "1")]
    if params["review"]:
        wanted = None if params["review"] == "none" else params["review"]
        rows = [r for r in rows if r["review"] == wanted]
    if params["q"]:
        needle = params["q"].casefold()
        rows = [r for r in rows if needle in (r["student"] or "").casefold()]
    key = SORT_KEYS[params["sort"]]
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    known.sort(key=lambda r: (key(r), r["attempt_id"]), reverse=params["descending"])
    rows = known + sorted(unknown, key=lambda r: r["attempt_id"])
    total = len(rows)
    if params["perpage"]:
        first = (params["page"] - 1) * params["perpage"]
        rows = rows[first:first + params["perpage"]]
    return rows, total


def display_rows(rows, zone):
    """Rows with the texts the HTML table shows, formatted here: a thousand rows in Jinja filters are slow."""
    shown = []
    for r in rows:
        percent = r["percent"] or {}
        shown.append({
            **r, "started": clock(r["started_at"], zone),
            "duration": duration_text(r["duration_seconds"]) if r["duration_seconds"] is not None else "",
            "cells": [(f"{percent[m]:.1f}", percent[m] > 0) if m in percent else ("", False) for m in METRICS],
            "score_text": "" if r["score"] is None else f"{r['score']:.0f}",
        })
    return shown


def to_csv(rows, zone):
    """CSV text; cells that a spreadsheet would run as a formula are quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        percent = r["percent"] or {}
        writer.writerow([
            r["attempt_id"], r["user_id"], spreadsheet_cell(r["student"]), clock(r["started_at"], zone),
            clock(r["finished_at"], zone) if r["finished_at"] is not None else "",
            "" if r["duration_seconds"] is None else round(r["duration_seconds"]), r["shots"],
            *["" if m not in percent else percent[m] for m in METRICS],
            r["events"], "" if r["score"] is None else r["score"], int(r["flagged"]), r["review"] or "",
            spreadsheet_cell(r["reviewer"] or ""),
            spreadsheet_cell("; ".join(filter(None, [r["score_note"], *r["reference_changes"]]))),
        ])
    return out.getvalue()


def spreadsheet_cell(text):
    """Text a spreadsheet shows as text: one that would start a formula gets a leading apostrophe."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
