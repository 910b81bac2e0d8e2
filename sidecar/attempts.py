"""Attempts and their rows: registration with the quiz's settings, the end, browser events, the
identity step's pass, the stored score, the teacher's review, and reading them back.

Every read of an attempt's row is made here (find_attempt and load_attempt, the listings,
identity_passed_at), so its columns are named in one place. Moodle's words for attempts are here
once too; the OpenAPI document and the plugin's lists follow these.
"""
import json
import time

from . import audit, outages, reference_changes, scoring
from .db import write_transaction
from .errors import BadRequest, Conflict, NotFound
from .validation import non_negative_int, number, positive_int, required, text, token

# Browser events the capture script reports; the plugin forwards exactly these.
EVENT_TYPES = (
    "focus_lost", "focus_back", "tab_hidden", "tab_visible", "camera_lost", "camera_back",
    "fullscreen_exit", "upload_failed", "upload_back", "direct_fallback",
)
IDENTITY_CHECKS = ("none", "face", "match")
CONCLUSIONS = ("accepted", "rejected")  # a teacher's review of an attempt
INTERVAL_SECONDS = (1, 3600)  # bounds of the quiz's capture interval
PERCENT = (0, 100)  # bounds of the threshold and of each metric's weight
RETENTION_DAYS = (1, 36500)
NAME_LENGTH = 255  # user, course and quiz names
COMMENT_LENGTH = 4000  # a review's comment
# How far a browser's time (a camshot's taken_at, an event's at) may stray from the attempt: the camera
# check runs a little before the attempt starts, and a clock a little ahead is no forgery. Anything
# further is refused, so no stored time can stretch an attempt's report past its real span.
EARLIEST_BEFORE_START = 5 * 60  # seconds before the attempt's start
LATEST_AHEAD = 2 * 60  # seconds ahead of the sidecar's clock

ATTEMPT_COLUMNS = ("id", "user_id", "course_id", "course_name", "quiz_id", "cm_id", "quiz_name", "started_at",
                   "finished_at", "settings", "legal_hold")
# An attempt's camshots as its JSON shows them; their storage path never leaves the sidecar.
SHOT_COLUMNS = ("id", "taken_at", "kind", "status", "faces", "boxes", "distance", "matched_user_id", "bytes", "width",
                "height", "error")
EVENT_COLUMNS = ("id", "type", "at", "client_event_id")
REVIEW_COLUMNS = ("conclusion", "comment", "reviewer_id", "reviewer_name", "reviewed_at")
# An attempt in a list (the console's quiz page, an export's attempts.csv): its row, its student's name,
# its camshots and their bytes, its score and its review.
LISTED_COLUMNS = (*ATTEMPT_COLUMNS, "user_fullname", "camshots", "bytes", "score", "flagged", "review")
LISTED_SQL = (
    f"SELECT {', '.join('a.' + column for column in ATTEMPT_COLUMNS)}, u.fullname, "
    "(SELECT count(*) FROM camshots c WHERE c.attempt_id = a.id), "
    "(SELECT COALESCE(sum(bytes), 0) FROM camshots c WHERE c.attempt_id = a.id), s.value, s.flagged, r.conclusion "
    "FROM attempts a LEFT JOIN users u ON u.id = a.user_id LEFT JOIN scores s ON s.attempt_id = a.id "
    "LEFT JOIN reviews r ON r.attempt_id = a.id "
)


def register(db, config, attempt_id, body):
    """Insert or update an attempt from Moodle's PUT body; (the attempt, whether it is new)."""
    required(body, "user_id", "course_id", "quiz_id", "cm_id", "started_at")
    user_id = positive_int(body["user_id"], "user_id")
    row = {
        "user_id": user_id,
        "course_id": positive_int(body["course_id"], "course_id"),
        "course_name": text(body.get("course_name", ""), "course_name", NAME_LENGTH),
        "quiz_id": positive_int(body["quiz_id"], "quiz_id"),
        "cm_id": positive_int(body["cm_id"], "cm_id"),
        "quiz_name": text(body.get("quiz_name", ""), "quiz_name", NAME_LENGTH),
        "started_at": non_negative_int(body["started_at"], "started_at"),
        "settings": json.dumps(settings_snapshot(body), sort_keys=True),
    }
    fullname = text(body.get("user_fullname", ""), "user_fullname", NAME_LENGTH)
    now = time.time()
    with write_transaction(db):
        existing = find_attempt(db, attempt_id)
        if existing and existing["user_id"] != user_id:
            raise Conflict(
                f"Attempt {attempt_id} belongs to user {existing['user_id']}, not {user_id}.",
                code="attempt_user_mismatch"
            )
        db.execute(
            "INSERT INTO users (id, fullname, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET fullname = excluded.fullname, updated_at = excluded.updated_at",
            [user_id, fullname, now],
        )
        if existing:
            db.execute(
                "UPDATE attempts SET course_id = :course_id, course_name = :course_name, quiz_id = :quiz_id, "
                "cm_id = :cm_id, quiz_name = :quiz_name, started_at = :started_at, settings = :settings, "
                "updated_at = :now WHERE id = :id",
                {**row, "now": now, "id": attempt_id},
            )
            # New weights, threshold or interval change the score.
            recompute_score(db, config, attempt_id)
        else:
            db.execute(
                "INSERT INTO attempts (id, user_id, course_id, course_name, quiz_id, cm_id, quiz_name, "
                "started_at, settings, created_at, updated_at) VALUES (:id, :user_id, :course_id, "
                ":course_name, :quiz_id, :cm_id, :quiz_name, :started_at, :settings, :now, :now)",
                {**row, "now": now, "id": attempt_id},
            )
    return attempt_summary(db, attempt_id), not existing


def settings_snapshot(body):
    """The quiz settings that travel with an attempt, checked field by field."""
    snapshot = {}
    for name in ("interval_min", "interval_max"):
        if body.get(name) is not None:
            snapshot[name] = int(number(body[name], name, *INTERVAL_SECONDS))
    if snapshot.get("interval_min", INTERVAL_SECONDS[0]) > snapshot.get("interval_max", INTERVAL_SECONDS[1]):
        raise BadRequest("interval_min must not be greater than interval_max.", code="invalid_field")
    if body.get("identity_check") is not None:
        if body["identity_check"] not in IDENTITY_CHECKS:
            raise BadRequest("identity_check must be one of: " + ", ".join(IDENTITY_CHECKS) + ".", code="invalid_field")
        snapshot["identity_check"] = body["identity_check"]
    if body.get("threshold") is not None:
        snapshot["threshold"] = number(body["threshold"], "threshold", *PERCENT)
    if body.get("weights") is not None:
        weights = body["weights"]
        if not isinstance(weights, dict):
            raise BadRequest("weights must be an object of metric: weight.", code="invalid_field")
        unknown = sorted(set(weights) - set(scoring.METRICS))
        if unknown:
            raise BadRequest(
                "Unknown metric(s) in weights: " + ", ".join(unknown) + ". Known: " + ", ".join(scoring.METRICS) + ".",
                code="invalid_field",
            )
        snapshot["weights"] = {k: number(v, f"weights.{k}", *PERCENT) for k, v in weights.items()}
    if body.get("retention_days") is not None:
        snapshot["retention_days"] = int(number(body["retention_days"], "retention_days", *RETENTION_DAYS))
    return snapshot


def finish(db, config, attempt_id, body):
    """Record the attempt's end from Moodle's body and score it; the attempt with its score.

    The score is what the stored one now says: Moodle alerts the quiz's teachers when it is flagged, and
    asks again later when it is not final (camshots still waiting for analysis).
    """
    required(body, "finished_at")
    finished_at = non_negative_int(body["finished_at"], "finished_at")
    with write_transaction(db):
        attempt = load_attempt(db, attempt_id)
        if finished_at < attempt["started_at"]:
            raise BadRequest("finished_at is before the attempt's started_at.", code="invalid_field")
        db.execute(
            "UPDATE attempts SET finished_at = ?, updated_at = ? WHERE id = ?", [finished_at, time.time(), attempt_id]
        )
        value, flagged, metrics = recompute_score(db, config, attempt_id)
    return {**attempt_summary(db, attempt_id), "score": {
        "value": value, "flagged": flagged, "threshold": metrics["threshold"], "final": metrics["final"]}}


def event_fields(body):
    """The fields of an event body, checked: the same for the signed and the direct route."""
    required(body, "attempt_id", "user_id", "type", "at", "client_event_id")
    if body["type"] not in EVENT_TYPES:
        raise BadRequest("type must be one of: " + ", ".join(EVENT_TYPES) + ".", code="invalid_field")
    return {
        "attempt_id": positive_int(body["attempt_id"], "attempt_id"),
        "user_id": positive_int(body["user_id"], "user_id"),
        "event_type": body["type"],
        "at": positive_int(body["at"], "at"),
        "client_event_id": token(body["client_event_id"], "client_event_id"),
    }


def capture_time(attempt, value_ms, name, now):
    """A camshot's or event's time (unix ms, from the browser) that lies within the attempt's possible span:
    from EARLIEST_BEFORE_START before its start to LATEST_AHEAD past the sidecar's clock now."""
    earliest = (attempt["started_at"] - EARLIEST_BEFORE_START) * 1000
    latest = int((now + LATEST_AHEAD) * 1000)
    if not earliest <= value_ms <= latest:
        raise BadRequest(
            f"{name} must lie between {EARLIEST_BEFORE_START // 60} minutes before the attempt started and "
            f"{LATEST_AHEAD // 60} minutes past the sidecar's clock (unix ms {earliest} to {latest}), got {value_ms}.",
            code="time_out_of_range",
        )
    return value_ms


def record_event(db, config, attempt_id, user_id, event_type, at, client_event_id, pay=None):
    """Store one browser event once; (the event, whether it is new). A retry is not new.

    pay(db), when given, runs in the event's transaction when the event is new (the attempt's upload
    allowance), so an event is paid for exactly when it is stored; last, so that what it locks is held
    only to the commit.
    """
    load_attempt(db, attempt_id, must_belong_to=user_id, status=409)
    # Without the database-wide lock: the unique client_event_id settles a race (the second insert
    # waits for the first's commit and inserts nothing), and the score is recomputed under the
    # attempt's row lock (recompute_score).
    with write_transaction(db, exclusive=False):
        inserted = db.execute(
            "INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (attempt_id, client_event_id) DO NOTHING RETURNING id",
            [attempt_id, event_type, at, client_event_id, time.time()],
        ).fetchall()  # all: SQLite finishes an INSERT ... RETURNING only when its rows are read
        if inserted:
            recompute_score(db, config, attempt_id)
            if pay is not None:
                pay(db)
    if not inserted:
        row = db.execute(
            "SELECT id FROM events WHERE attempt_id = ? AND client_event_id = ?", [attempt_id, client_event_id]
        ).fetchone()
        return {"id": row[0], "attempt_id": attempt_id, "type": event_type}, False
    return {"id": inserted[0][0], "attempt_id": attempt_id, "type": event_type}, True


def event_was_recorded(db, attempt_id, client_event_id):
    """Whether this event is a retry of one already stored."""
    return db.execute("SELECT 1 FROM events WHERE attempt_id = ? AND client_event_id = ?",
                      [attempt_id, client_event_id]).fetchone() is not None


def find_attempt(db, attempt_id, lock=False):
    """The attempt row as a dict (settings parsed), or None for an unknown attempt.

    lock: hold the row's lock to the commit (inside a write transaction), so that writers of what is
    derived from the attempt (its score, its frozen reference) take turns, each seeing the one before.
    """
    row = db.execute(f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts WHERE id = ?" + (db.lock_rows if lock else ""),
                     [attempt_id]).fetchone()
    return None if row is None else _attempt(dict(zip(ATTEMPT_COLUMNS, row)))


def _attempt(row):
    row["settings"] = json.loads(row["settings"] or "{}")
    row["legal_hold"] = bool(row["legal_hold"])
    return row


def load_attempt(db, attempt_id, must_belong_to=None, status=404):
    """The attempt row as a dict; refuse an unknown attempt or another user's."""
    attempt = find_attempt(db, attempt_id)
    if attempt is None:
        error = NotFound if status == 404 else Conflict
        raise error(
            f"Attempt {attempt_id} is not registered with the sidecar; register it with "
            f"PUT /api/v1/attempts/{attempt_id} first.",
            code="unknown_attempt",
        )
    if must_belong_to is not None and attempt["user_id"] != must_belong_to:
        raise Conflict(
            f"Attempt {attempt_id} belongs to another user than {must_belong_to}.", code="attempt_user_mismatch"
        )
    return attempt


def attempt_summary(db, attempt_id):
    """The attempt with its student's name."""
    attempt = load_attempt(db, attempt_id)
    attempt["user_fullname"] = db.execute("SELECT fullname FROM users WHERE id = ?", [attempt["user_id"]]).fetchone()[0]
    return attempt


def quiz_attempts(db, quiz_id, limit):
    """A quiz's attempts as lists show them (LISTED_COLUMNS), the latest started first, at most limit."""
    return [_attempt(dict(zip(LISTED_COLUMNS, row))) for row in db.execute(
        LISTED_SQL + "WHERE a.quiz_id = ? ORDER BY a.started_at DESC, a.id LIMIT ?", [quiz_id, limit])]


def known_quizzes(db):
    """Every quiz the sidecar holds attempts of, as pickers offer them: course module id, quiz and course names."""
    rows = db.execute("SELECT cm_id, max(quiz_name), max(course_name) FROM attempts GROUP BY cm_id "
                      "ORDER BY 3, 2, 1").fetchall()
    return [{"cm_id": row[0], "quiz_name": row[1] or "", "course_name": row[2] or ""} for row in rows]


def quiz_of_module(db, cm_id):
    """The quiz instance id of the quiz at view.php?id=cm_id, from its attempts; None for a quiz the sidecar
    holds no attempt of."""
    row = db.execute("SELECT quiz_id FROM attempts WHERE cm_id = ? LIMIT 1", [cm_id]).fetchone()
    return row[0] if row else None


def listed_attempts(db, attempt_ids):
    """These attempts as lists show them (LISTED_COLUMNS), by id."""
    marks = ", ".join("?" * len(attempt_ids))
    return [_attempt(dict(zip(LISTED_COLUMNS, row))) for row in db.execute(
        LISTED_SQL + f"WHERE a.id IN ({marks}) ORDER BY a.id", list(attempt_ids))]


def knows_user(db, user_id):
    """Whether the sidecar holds a row of this user (an attempt or a reference photo made it)."""
    return db.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone() is not None


def camshots_of(db, attempt_id):
    """Every camshot of an attempt, oldest first: SHOT_COLUMNS (boxes parsed) and its storage path."""
    return [
        {**dict(zip((*SHOT_COLUMNS, "path"), row)), "boxes": json.loads(row[5]) if row[5] else []}
        for row in db.execute(
            f"SELECT {', '.join(SHOT_COLUMNS)}, path FROM camshots WHERE attempt_id = ? ORDER BY taken_at, id",
            [attempt_id],
        )
    ]


def events_of(db, attempt_id):
    """Every browser event of an attempt, in the order they happened."""
    return [dict(zip(EVENT_COLUMNS, row)) for row in db.execute(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE attempt_id = ? ORDER BY at, id", [attempt_id])]


def attempt_detail(db, attempt_id):
    """The attempt, its shots, events, score and review: GET /api/v1/attempts/<id>, the console, exports."""
    attempt = attempt_summary(db, attempt_id)
    score = db.execute(
        "SELECT value, flagged, metrics, computed_at FROM scores WHERE attempt_id = ?", [attempt_id]
    ).fetchone()
    return {
        "attempt": attempt,
        "shots": [{column: shot[column] for column in SHOT_COLUMNS} for shot in camshots_of(db, attempt_id)],
        "events": events_of(db, attempt_id),
        "score": (
            {"value": score[0], "flagged": bool(score[1]), "metrics": json.loads(score[2]), "computed_at": score[3]}
            if score else None
        ),
        "review": review(db, attempt_id),
        "identity": {**identity_state(db, attempt_id), "reference_changes": reference_changes.problems(db, attempt_id)},
    }


def recompute_score(db, config, attempt_id):
    """Compute the attempt's score from its rows and upsert its scores row; return (value, flagged, metrics),
    or None for an attempt gone meanwhile.

    Runs in the caller's transaction if one is open, else in its own write transaction, so two
    workers finishing shots of one attempt at once cannot leave the older computation on top.

    Without the database-wide lock: the computation holds the attempt's row lock from before it
    reads the attempt's rows to its commit, so computations of one attempt take turns, and each
    reads every change committed before its turn. A change (a verdict, an event) is followed by a
    computation, in its transaction or after its commit, so the last one to write has seen them all.
    """
    if db.in_transaction:
        return _recompute(db, config, attempt_id)
    with write_transaction(db, exclusive=False):
        return _recompute(db, config, attempt_id)


def _recompute(db, config, attempt_id):
    attempt = find_attempt(db, attempt_id, lock=True)
    if attempt is None:
        return None
    shots, events, now = camshots_of(db, attempt_id), events_of(db, attempt_id), time.time()
    value, flagged, metrics, _ = scoring.score_attempt(
        attempt, shots, events, config, now, reference_changes.problems(db, attempt_id),
        outages.of_attempt(db, config, attempt, shots, events, now))
    db.execute(
        "INSERT INTO scores (attempt_id, value, flagged, metrics, computed_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(attempt_id) DO UPDATE SET value = excluded.value, flagged = excluded.flagged, "
        "metrics = excluded.metrics, computed_at = excluded.computed_at",
        [attempt_id, value, int(flagged), json.dumps(metrics, sort_keys=True), time.time()],
    )
    return value, flagged, metrics


def identity_passed_at(db, attempt_id):
    """When the attempt's identity check first passed; None while its identity step lasts."""
    return db.execute("SELECT identity_passed_at FROM attempts WHERE id = ?", [attempt_id]).fetchone()[0]


def record_identity_pass(db, attempt_id, now):
    """The identity check passed: the first pass ends the identity step, later ones change nothing."""
    # One UPDATE under its row lock: the first pass's time stays, whichever of two passes commits first.
    with write_transaction(db, exclusive=False):
        db.execute("UPDATE attempts SET identity_passed_at = coalesce(identity_passed_at, ?) WHERE id = ?",
                   [now, attempt_id])


IDENTITY_COLUMNS = ("identity_passed_at", "reference_frozen_at", "reference_photo_id", "identity_decision",
                    "identity_decided_at")


def identity_state(db, attempt_id):
    """How the attempt's identity stands (IDENTITY_COLUMNS): its pass, its frozen reference (frozen at, and the
    reference photo's id, None when it was frozen with no usable photo) and a teacher's decision."""
    row = db.execute(f"SELECT {', '.join(IDENTITY_COLUMNS)} FROM attempts WHERE id = ?", [attempt_id]).fetchone()
    return dict(zip(IDENTITY_COLUMNS, row)) if row else None


def review(db, attempt_id):
    """The teacher's review of the attempt (REVIEW_COLUMNS), or None before any."""
    row = db.execute(f"SELECT {', '.join(REVIEW_COLUMNS)} FROM reviews WHERE attempt_id = ?", [attempt_id]).fetchone()
    return dict(zip(REVIEW_COLUMNS, row)) if row else None


def review_fields(body):
    """A teacher's review from Moodle's body, checked: conclusion, comment, reviewer_id, reviewer_name."""
    required(body, "conclusion")
    if body["conclusion"] not in CONCLUSIONS:
        raise BadRequest("conclusion must be " + " or ".join(CONCLUSIONS) + ".", code="invalid_field")
    return {
        "conclusion": body["conclusion"],
        "comment": text(body.get("comment") or "", "comment", COMMENT_LENGTH),
        "reviewer_id": (positive_int(body["reviewer_id"], "reviewer_id")
                        if body.get("reviewer_id") not in (None, "") else None),
        "reviewer_name": text(body.get("reviewer_name") or "", "reviewer_name", NAME_LENGTH),
    }


def record_review(db, attempt_id, fields, actor):
    """Record the teacher's conclusion (review_fields); every change goes to the audit log with what it
    replaced, by the acting Moodle user or else the reviewer. The review with the conclusion it replaced."""
    now = time.time()
    with write_transaction(db):
        attempt = load_attempt(db, attempt_id)
        before = review(db, attempt_id)
        db.execute(
            "INSERT INTO reviews (attempt_id, conclusion, comment, reviewer_id, reviewer_name, reviewed_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(attempt_id) DO UPDATE SET conclusion = excluded.conclusion, "
            "comment = excluded.comment, reviewer_id = excluded.reviewer_id, "
            "reviewer_name = excluded.reviewer_name, reviewed_at = excluded.reviewed_at",
            [attempt_id, fields["conclusion"], fields["comment"], fields["reviewer_id"], fields["reviewer_name"], now],
        )
        if actor["actor_id"] is None and fields["reviewer_id"] is not None:
            actor = {"actor_type": "moodle", "actor_id": str(fields["reviewer_id"]),
                     "actor_name": fields["reviewer_name"]}
        was = f"was {before['conclusion']}" if before else "first review"
        audit.record(db, "review", actor, audit.attempt_selection(attempt), count=1,
                     detail=f"{fields['conclusion']} ({was}); comment: {fields['comment']}")
    return {"attempt_id": attempt_id, **fields, "reviewed_at": now,
            "previous": before["conclusion"] if before else None}
