"""The live view of a quiz: every attempt in progress with its latest camshot, recent events and score so far.

Moodle polls it every few seconds for each teacher watching, so it is answered from one query,
whatever the number of attempts. The score is the stored one, which the sidecar recomputes with
every verdict and event (scoring.py); the verdict of a camshot is scoring's own reading of it.
Ages are measured on the sidecar's clock (received_at), so a student's computer clock that is
off by minutes does not make a camera look quiet or busy.
"""
import json

from . import scoring
from .errors import BadRequest
from .reports.overview import MAX_USER_IDS
from .validation import id_list, positive_int

# Focus and tab events: those that open an interval away from the quiz page count as leaving it.
PAGE_EVENTS = tuple(scoring.FOCUS_PAIRS)
LEAVING_EVENTS = tuple(kind for kind, (_, lost) in scoring.FOCUS_PAIRS.items() if lost)
WINDOW_MINUTES = 5  # how far back "recent" events reach unless the caller says
MAX_WINDOW_MINUTES = 60
# What can be wrong with an attempt right now, most serious first: the live view lists attempts in this order.
PROBLEMS = ("substitution", "reference_changed", "mismatch", "multiple_faces", "no_face", "camera_quiet",
            "below_threshold", "left_page")
# A camshot's verdict: scoring's violation metric, else its analysis status (ok, pending, unreadable).
VERDICTS = ("ok", "pending", "unreadable", "no_face", "multiple_faces", "mismatch", "substitution")


def live_params(args):
    """user_ids (as the overview takes them) and the window of recent events, refused precisely when malformed."""
    user_ids = id_list(args["user_ids"], "user_ids", MAX_USER_IDS) if "user_ids" in args else None
    minutes = positive_int(args["minutes"], "minutes") if args.get("minutes") else WINDOW_MINUTES
    if minutes > MAX_WINDOW_MINUTES:
        raise BadRequest(f"minutes must be at most {MAX_WINDOW_MINUTES}.", code="invalid_field")
    return {"user_ids": user_ids, "minutes": minutes}


# Latest camshot and latest page event by walking their (attempt_id, time) index backwards, ties broken by
# id; recent leaving events counted within the same index range. {users} is the optional filter of user_ids,
# one placeholder per id (written the same for SQLite and PostgreSQL).
LIVE_QUERY = f"""
SELECT a.id, a.user_id, u.fullname, a.started_at, a.settings,
       c.id, c.taken_at, c.received_at, c.status, c.matched_user_id, m.fullname,
       (SELECT count(*) FROM events r
         WHERE r.attempt_id = a.id AND r.received_at >= :since
           AND r.type IN ({", ".join(f"'{t}'" for t in LEAVING_EVENTS)})),
       e.type, e.received_at,
       s.value, s.flagged,
       (SELECT count(*) FROM reference_changes rc WHERE rc.attempt_id = a.id)
FROM attempts a
JOIN users u ON u.id = a.user_id
LEFT JOIN camshots c ON c.id = (
    SELECT id FROM camshots WHERE attempt_id = a.id AND kind = 'attempt' ORDER BY taken_at DESC, id DESC LIMIT 1)
LEFT JOIN users m ON m.id = c.matched_user_id
LEFT JOIN events e ON e.id = (
    SELECT id FROM events WHERE attempt_id = a.id AND type IN ({", ".join(f"'{t}'" for t in PAGE_EVENTS)})
    ORDER BY at DESC, id DESC LIMIT 1)
LEFT JOIN scores s ON s.attempt_id = a.id
WHERE a.quiz_id = :quiz_id AND a.finished_at IS NULL {{users}}
"""


def live_attempts(db, config, quiz_id, params, now):
    """The quiz's attempts in progress, as the live view shows them, problems first. `now` in unix seconds."""
    user_ids = params["user_ids"]
    if user_ids is not None and not user_ids:
        return []
    values = {"quiz_id": quiz_id, "since": now - 60 * params["minutes"]}
    users = ""
    if user_ids is not None:
        names = [f"user_{index}" for index in range(len(user_ids))]
        values.update(zip(names, sorted(user_ids)))
        users = "AND a.user_id IN (" + ", ".join(f":{name}" for name in names) + ")"
    rows = db.execute(LIVE_QUERY.format(users=users), values).fetchall()
    tiles = [tile(row, config, now) for row in rows]
    tiles.sort(key=problems_first)
    return tiles


def tile(row, config, now):
    """One attempt's row of the live answer."""
    (attempt_id, user_id, student, started_at, settings, shot_id, taken_at, received_at, status, matched_user_id,
     matched_student, left_page, event_type, event_received_at, score, flagged, reference_changes) = row
    _, threshold, due_ms = scoring.scoring_settings({"settings": json.loads(settings or "{}")}, config)
    last_shot = None
    if shot_id is not None:
        verdict = scoring.shot_metric({"status": status, "matched_user_id": matched_user_id}) or status
        last_shot = {"id": shot_id, "taken_at": taken_at, "verdict": verdict,
                     "matched_user_id": matched_user_id, "matched_student": matched_student}
    # Until the first camshot, the camera is as quiet as the attempt is old.
    quiet_for = max(0.0, now - (received_at if received_at is not None else started_at))
    tile = {
        "attempt_id": attempt_id, "user_id": user_id, "student": student, "started_at": started_at,
        "last_shot": last_shot,
        "seconds_since_shot": round(quiet_for, 1),
        "camera_quiet": quiet_for * 1000 > due_ms,
        "due_seconds": due_ms / 1000,
        "left_page": left_page,
        "last_page_event": None if event_type is None else {
            "type": event_type, "seconds_ago": round(max(0.0, now - event_received_at), 1)},
        "score": score,
        "threshold": threshold,
        "below_threshold": bool(flagged),
        # The student's profile photo changed before or during the attempt (reference_changes.py).
        "reference_changed": bool(reference_changes),
    }
    tile["problems"] = problems(tile)
    return tile


def problems(tile):
    """What is wrong with the attempt now, in the order of PROBLEMS."""
    found = set()
    if tile["last_shot"] and tile["last_shot"]["verdict"] in PROBLEMS:
        found.add(tile["last_shot"]["verdict"])
    if tile["reference_changed"]:
        found.add("reference_changed")
    if tile["camera_quiet"]:
        found.add("camera_quiet")
    if tile["below_threshold"]:
        found.add("below_threshold")
    if tile["left_page"]:
        found.add("left_page")
    return [p for p in PROBLEMS if p in found]


def problems_first(tile):
    """Sort key: the most serious problem first, then more problems, the lower score, the name."""
    rank = PROBLEMS.index(tile["problems"][0]) if tile["problems"] else len(PROBLEMS)
    score = tile["score"] if tile["score"] is not None else 101
    return rank, -len(tile["problems"]), score, (tile["student"] or "").casefold(), tile["attempt_id"]
