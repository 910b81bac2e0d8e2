"""What one attempt's report shows, gathered once for the HTML fragment and the PDF."""
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import attempts, outages, reference_changes
from ..analysis import references
from ..errors import BadRequest
from ..scoring import METRICS, score_attempt, shot_metric, union_length

METRIC_LABELS = {
    "no_face": "No face", "multiple_faces": "Several faces", "mismatch": "Face mismatch",
    "substitution": "Another student", "camera_off": "Camera off", "focus_lost": "Focus lost / tab hidden",
}
STATUS_LABELS = {
    "ok": "OK", "pending": "Not analysed yet", "no_face": "No face", "multiple_faces": "Several faces",
    "mismatch": "Mismatch", "unreadable": "Unreadable",
}
EVENT_LABELS = {
    "focus_lost": "Window lost focus", "focus_back": "Window focused again", "tab_hidden": "Tab hidden",
    "tab_visible": "Tab visible again", "camera_lost": "Camera lost", "camera_back": "Camera back",
    "fullscreen_exit": "Left full screen", "upload_failed": "Upload failed", "direct_fallback": "Direct upload fell back",
    "upload_back": "Uploads back",
}
# The badge of a camshot that recognised a student whom the viewer may not see, or whose name is unknown.
UNNAMED_STUDENT = "Another student of this course"
# Events that mark the start of something a teacher should look at.
ALERT_EVENTS = {"focus_lost", "tab_hidden", "camera_lost", "fullscreen_exit", "upload_failed"}

# A URL prefix: an http(s) URL, or a path with no colon at all, so no scheme (javascript:, data:)
# can hide in it; no quotes, spaces, angle brackets or backslashes, so it cannot leave its attribute.
MAX_SLOTS = 24 * 60  # slots of the per-minute timeline at most: a day's worth of minutes

URL_PREFIX = re.compile(r"^(https?://[^\s\"'<>\\`]+|[/.A-Za-z0-9_~-][^\s\"'<>\\`:]*)?$")
MAX_PREFIX = 500


def url_prefix(value, name):
    """A caller-supplied URL prefix (image_base, link_base), refused if it could be anything but a link."""
    if len(value) > MAX_PREFIX or not URL_PREFIX.match(value):
        raise BadRequest(
            f"{name} must be a relative path or an http(s) URL prefix without quotes, spaces or angle brackets.",
            code="invalid_field",
        )
    return value


def time_zone(name, default):
    """The zone times are shown in: the caller's IANA name (Moodle knows the viewer's), else the setting."""
    name = name or default
    try:
        if len(name) > 64 or not re.match(r"^[A-Za-z0-9_+/-]+$", name):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"tz must be an IANA time zone name such as Europe/Paris, got {name[:64]!r}.",
                         code="invalid_field") from None


def clock(seconds, zone, with_date=True):
    """A time as the reports print it; one no calendar can show (a row stored before times were checked)
    is said to be invalid rather than break the page."""
    try:
        moment = datetime.fromtimestamp(seconds, zone)
    except (OverflowError, OSError, ValueError):
        return "invalid time"
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if with_date else "%H:%M:%S")


def elapsed(seconds):
    """+mm:ss (or +h:mm:ss) since the start."""
    sign = "-" if seconds < 0 else "+"
    seconds = int(abs(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes:02d}:{secs:02d}"


def duration_text(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def heat_colour(fraction):
    """Green (nothing in violation) through amber to red (the whole minute)."""
    fraction = min(1.0, max(0.0, fraction))
    hue = round(120 * (1 - fraction))
    return f"hsl({hue}, 70%, {42 if fraction else 38}%)"


def minutes_of(timeline):
    """Per-minute share of time in violation, with the seconds of each metric in that minute.

    An attempt longer than MAX_SLOTS minutes gets slots of several minutes, so that the timeline's size
    stays bounded however long the attempt ran.
    """
    minutes = []
    start, end = timeline.start, timeline.end
    slot = 60_000 * max(1, -(-(end - start) // (60_000 * MAX_SLOTS)))
    every = [(a, b, m) for m in METRICS for a, b in timeline.intervals[m]]
    index = 0
    for minute_start in range(start, end, slot):
        minute_end = min(minute_start + slot, end)
        clipped = [(max(a, minute_start), min(b, minute_end), m) for a, b, m in every
                   if a < minute_end and b > minute_start]
        covered = union_length([(a, b) for a, b, _ in clipped])
        per_metric = {}
        for a, b, m in clipped:
            per_metric[m] = per_metric.get(m, 0) + (b - a) / 1000
        fraction = covered / (minute_end - minute_start)
        minutes.append({
            "index": index, "minute": (minute_start - start) // 60_000, "fraction": fraction,
            "colour": heat_colour(fraction),
            "metrics": {METRIC_LABELS[m]: round(s) for m, s in per_metric.items()},
        })
        index += 1
    return minutes


def shot_view(shot, start_ms, zone, names, matched_attempts):
    """A camshot as the grid shows it: badge, time, face boxes as percentages of the image. Another student
    recognised is named only when names holds them (the viewer may see them), with their attempt at the quiz
    when matched_attempts holds one."""
    boxes = shot["boxes"]
    width, height = shot["width"] or 1, shot["height"] or 1
    substitution = shot["matched_user_id"] is not None
    badge = STATUS_LABELS.get(shot["status"], shot["status"])
    matched_attempt = None
    if substitution:
        name = names.get(shot["matched_user_id"])
        badge = f"Another student: {name}" if name else UNNAMED_STUDENT
        if name:
            matched_attempt = matched_attempts.get(shot["matched_user_id"])
    return {
        "id": shot["id"], "kind": shot["kind"], "status": shot["status"],
        # The camshot puts a metric of the score in violation (scoring's reading of its verdict).
        "counted": shot_metric(shot) is not None,
        "badge": badge, "badge_class": "substitution" if substitution else shot["status"],
        "matched_attempt": matched_attempt,
        "faces": shot["faces"], "distance": shot["distance"], "error": shot["error"],
        "elapsed": elapsed((shot["taken_at"] - start_ms) / 1000),
        "clock": clock(shot["taken_at"] / 1000, zone, with_date=False),
        "width": shot["width"], "height": shot["height"], "path": shot["path"],
        "boxes": [
            {"left": 100 * left / width, "top": 100 * top / height,
             "width": 100 * (right - left) / width, "height": 100 * (bottom - top) / height,
             "pixels": (top, right, bottom, left)}
            for top, right, bottom, left in boxes
        ],
    }


def load_references(db, attempt):
    """The photo the attempt was judged against (frozen with it) and the student's profile photo today when it
    differs, labelled for the report; the attempt's identity photos are shown as its identity camshots."""
    state = attempts.identity_state(db, attempt["id"])
    rows = references.attempt_photo_rows(db, attempt["user_id"], attempt["id"])
    frozen = next((row for row in rows if row[0] == state["reference_photo_id"]), None)
    shown = []
    if frozen is not None:
        label = ("Judged against: identity photo a teacher approved" if frozen[1] == "identity"
                 else "Judged against: Moodle profile photo when the attempt began")
        shown.append({"id": frozen[0], "source": frozen[1], "role": "judged_against", "label": label,
                      "path": frozen[2]})
    for row in rows:
        if row[4] is None and (frozen is None or _encoding(db, row[0]) != _encoding(db, frozen[0])):
            label = "Moodle profile photo today" + (", not the one judged against" if frozen else "")
            shown.append({"id": row[0], "source": row[1], "role": "profile_today", "label": label, "path": row[2]})
    return shown


def _encoding(db, photo_id):
    return db.execute("SELECT encoding FROM reference_photos WHERE id = ?", [photo_id]).fetchone()[0]


def reference_view(db, attempt):
    """How the attempt's reference stands for the report: frozen or not, a decision, the changes recorded."""
    state = attempts.identity_state(db, attempt["id"])
    if state["reference_frozen_at"] is None:
        frozen = "not_frozen"
    else:
        frozen = "frozen" if state["reference_photo_id"] else "none"
    return {"state": frozen, "must_match": attempt["settings"].get("identity_check") == "match",
            "decision": state["identity_decision"], "changes": reference_changes.problems(db, attempt["id"])}


def matched_attempts(db, quiz_id, names):
    """{user id: their latest attempt at the quiz} of the students recognised and named in a report."""
    if not names:
        return {}
    return dict(db.execute(
        f"SELECT user_id, max(id) FROM attempts WHERE quiz_id = ? AND user_id IN ({','.join('?' * len(names))}) "
        "GROUP BY user_id", [quiz_id, *names]).fetchall())


def labelled_formula(metrics, value):
    """The score's sum with the metrics named as the report's table names them: Weight × Share of each."""
    terms = " + ".join(f"{metrics['weights'][m]:g} × {metrics['percent'][m]:.1f} % {METRIC_LABELS[m]}"
                       for m in METRICS)
    penalty = sum(metrics["weights"][m] * metrics["percent"][m] for m in METRICS)
    return f"Score = max(0, 100 − ({terms})) = max(0, 100 − {penalty:.1f}) = {value:.1f}"


def zone_text(zone, at):
    """The zone the report's times are in, as its page says it: its name and offset from UTC at the attempt."""
    try:
        offset = datetime.fromtimestamp(at, zone).strftime("%z")
    except (OverflowError, OSError, ValueError):
        return zone.key
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]})"


def review_view(db, attempt_id, zone):
    """The teacher's review as the report shows it, or None."""
    review = attempts.review(db, attempt_id)
    if review is None:
        return None
    return {**review, "reviewed_at": clock(review["reviewed_at"], zone)}


def build_report(db, config, attempt_id, zone, named_user_ids=None):
    """Everything the attempt report shows, computed from the rows as they are now; a student recognised in the
    camshots is named only if named_user_ids (None: everyone) holds them."""
    attempt = attempts.attempt_summary(db, attempt_id)
    shots = attempts.camshots_of(db, attempt_id)
    events = attempts.events_of(db, attempt_id)
    reference = reference_view(db, attempt)
    now = time.time()
    value, flagged, metrics, timeline = score_attempt(attempt, shots, events, config, now, reference["changes"],
                                                      outages.of_attempt(db, config, attempt, shots, events, now))
    matched = {s["matched_user_id"] for s in shots if s["matched_user_id"] is not None}
    if named_user_ids is not None:
        matched &= named_user_ids
    names = dict(db.execute(
        f"SELECT id, fullname FROM users WHERE id IN ({','.join('?' * len(matched))})", list(matched)
    ).fetchall()) if matched else {}
    start_ms = timeline.start
    views = [shot_view(s, start_ms, zone, names, matched_attempts(db, attempt["quiz_id"], names)) for s in shots]
    attempt_views = [v for v in views if v["kind"] == "attempt"]
    duration_ms = timeline.duration_ms
    return {
        "attempt": attempt,
        "zone": zone_text(zone, attempt["started_at"]),
        "started": clock(attempt["started_at"], zone),
        "finished": clock(attempt["finished_at"], zone) if attempt["finished_at"] is not None else None,
        "duration": duration_text(duration_ms / 1000),
        "score": {
            "value": value, "flagged": flagged, "threshold": metrics["threshold"],
            "formula": None if value is None else labelled_formula(metrics, value),
            "reason": metrics["reason"], "final": metrics["final"], "pending": metrics["pending"],
            "outages": [{"start": clock(a / 1000, zone, with_date=False), "end": clock(b / 1000, zone, with_date=False),
                         "duration": duration_text((b - a) / 1000)} for a, b in metrics["outages"]],
            "rows": [
                {"key": m, "label": METRIC_LABELS[m], "seconds": metrics["seconds"][m],
                 "percent": metrics["percent"][m], "weight": metrics["weights"][m],
                 "penalty": round(metrics["weights"][m] * metrics["percent"][m], 1)}
                for m in METRICS
            ],
        },
        "match_threshold": config["analysis.match_threshold"],
        "minutes": minutes_of(timeline),
        "markers": [
            {"x": (e["at"] - start_ms) / duration_ms if duration_ms else 0, "type": e["type"],
             "label": EVENT_LABELS.get(e["type"], e["type"]), "elapsed": elapsed((e["at"] - start_ms) / 1000)}
            for e in events if e["type"] in ALERT_EVENTS and start_ms <= e["at"] <= timeline.end
        ],
        "events": [
            {"type": e["type"], "label": EVENT_LABELS.get(e["type"], e["type"]), "alert": e["type"] in ALERT_EVENTS,
             "elapsed": elapsed((e["at"] - start_ms) / 1000), "clock": clock(e["at"] / 1000, zone, with_date=False)}
            for e in events
        ],
        "references": load_references(db, attempt),
        "reference": {**reference, "changes": [
            {**change, "changed": clock(change["changed_at"], zone)} for change in reference["changes"]]},
        "identity_shots": [v for v in views if v["kind"] == "identity"],
        "shots": attempt_views,
        "counted_count": sum(1 for v in attempt_views if v["counted"]),
        "review": review_view(db, attempt_id, zone),
        "metric_labels": METRIC_LABELS,
    }
