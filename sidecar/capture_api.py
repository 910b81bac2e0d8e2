"""The signed capture API Moodle calls: attempts, camshots, events, images."""
import hashlib
import io
import json
import sqlite3
import time

from flask import Blueprint, current_app, jsonify, request, send_file

from . import audit, storage
from .auth import moodle_actor, require_signed_request
from .db import get_db, write_transaction
from .errors import BadRequest, Conflict, NotFound
from .images import decode_upload, encode_png, fit_width
from .reports.score import recompute_score
from .validation import json_body, non_negative_int, number, positive_int, required, text, token

bp = Blueprint("capture_api", __name__, url_prefix="/api/v1")
bp.before_request(require_signed_request)

EVENT_TYPES = (
    "focus_lost", "focus_back", "tab_hidden", "tab_visible", "camera_lost", "camera_back",
    "fullscreen_exit", "upload_failed", "direct_fallback",
)
IDENTITY_CHECKS = ("none", "face", "match")
METRICS = ("no_face", "multiple_faces", "mismatch", "substitution", "camera_off", "focus_lost")
CAMSHOT_KINDS = ("attempt", "identity")


@bp.get("/ping")
def ping():
    """A signed no-op, so Moodle's Test connection proves the secret and the clock."""
    return jsonify(ok=True, time=int(time.time()), api="v1")


@bp.get("/openapi.json")
def openapi():
    from . import package_version
    from .openapi import document

    return jsonify(document(package_version()))


@bp.put("/attempts/<attempt_id>")
def put_attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    body = json_body()
    required(body, "user_id", "course_id", "quiz_id", "cm_id", "started_at")
    user_id = positive_int(body["user_id"], "user_id")
    row = {
        "user_id": user_id,
        "course_id": positive_int(body["course_id"], "course_id"),
        "course_name": text(body.get("course_name", ""), "course_name"),
        "quiz_id": positive_int(body["quiz_id"], "quiz_id"),
        "cm_id": positive_int(body["cm_id"], "cm_id"),
        "quiz_name": text(body.get("quiz_name", ""), "quiz_name"),
        "started_at": non_negative_int(body["started_at"], "started_at"),
        "settings": json.dumps(settings_snapshot(body), sort_keys=True),
    }
    fullname = text(body.get("user_fullname", ""), "user_fullname")
    now = time.time()
    db = get_db()
    with write_transaction(db):
        existing = db.execute("SELECT user_id FROM attempts WHERE id = ?", [attempt_id]).fetchone()
        if existing and existing[0] != user_id:
            raise Conflict(
                f"Attempt {attempt_id} belongs to user {existing[0]}, not {user_id}.", code="attempt_user_mismatch"
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
            recompute_score(db, current_app.config["PROCTORPY"], attempt_id)
        else:
            db.execute(
                "INSERT INTO attempts (id, user_id, course_id, course_name, quiz_id, cm_id, quiz_name, "
                "started_at, settings, created_at, updated_at) VALUES (:id, :user_id, :course_id, "
                ":course_name, :quiz_id, :cm_id, :quiz_name, :started_at, :settings, :now, :now)",
                {**row, "now": now, "id": attempt_id},
            )
    return jsonify(attempt_summary(db, attempt_id)), 200 if existing else 201


def settings_snapshot(body):
    """The quiz settings that travel with an attempt, checked field by field."""
    snapshot = {}
    for name in ("interval_min", "interval_max"):
        if body.get(name) is not None:
            snapshot[name] = int(number(body[name], name, 1, 3600))
    if snapshot.get("interval_min", 0) > snapshot.get("interval_max", 3600):
        raise BadRequest("interval_min must not be greater than interval_max.", code="invalid_field")
    if body.get("identity_check") is not None:
        if body["identity_check"] not in IDENTITY_CHECKS:
            raise BadRequest("identity_check must be one of: " + ", ".join(IDENTITY_CHECKS) + ".", code="invalid_field")
        snapshot["identity_check"] = body["identity_check"]
    if body.get("threshold") is not None:
        snapshot["threshold"] = number(body["threshold"], "threshold", 0, 100)
    if body.get("weights") is not None:
        weights = body["weights"]
        if not isinstance(weights, dict):
            raise BadRequest("weights must be an object of metric: weight.", code="invalid_field")
        unknown = sorted(set(weights) - set(METRICS))
        if unknown:
            raise BadRequest(
                "Unknown metric(s) in weights: " + ", ".join(unknown) + ". Known: " + ", ".join(METRICS) + ".",
                code="invalid_field",
            )
        snapshot["weights"] = {k: number(v, f"weights.{k}", 0, 100) for k, v in weights.items()}
    if body.get("retention_days") is not None:
        snapshot["retention_days"] = int(number(body["retention_days"], "retention_days", 1, 36500))
    return snapshot


@bp.post("/attempts/<attempt_id>/finish")
def finish_attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    body = json_body()
    required(body, "finished_at")
    finished_at = non_negative_int(body["finished_at"], "finished_at")
    db = get_db()
    with write_transaction(db):
        attempt = load_attempt(db, attempt_id)
        if finished_at < attempt["started_at"]:
            raise BadRequest("finished_at is before the attempt's started_at.", code="invalid_field")
        db.execute(
            "UPDATE attempts SET finished_at = ?, updated_at = ? WHERE id = ?", [finished_at, time.time(), attempt_id]
        )
        recompute_score(db, current_app.config["PROCTORPY"], attempt_id)
    return jsonify(attempt_summary(db, attempt_id))


@bp.post("/camshots")
def post_camshot():
    db = get_db()
    fields, data = camshot_upload()
    attempt = load_attempt(db, fields["attempt_id"], must_belong_to=fields["user_id"], status=409)
    existing = find_camshot_by_client_id(db, attempt["id"], fields["client_shot_id"])
    if existing:
        return jsonify(existing), 200
    camshot = store_camshot(db, attempt, fields, data)
    return jsonify(camshot), 201


def camshot_upload():
    """The multipart fields and image bytes of a camshot upload, validated."""
    form = request.form
    required(form, "attempt_id", "user_id", "taken_at", "client_shot_id")
    fields = {
        "attempt_id": positive_int(form["attempt_id"], "attempt_id"),
        "user_id": positive_int(form["user_id"], "user_id"),
        "taken_at": positive_int(form["taken_at"], "taken_at"),
        "client_shot_id": token(form["client_shot_id"], "client_shot_id"),
        "kind": form.get("kind") or "attempt",
    }
    if fields["kind"] not in CAMSHOT_KINDS:
        raise BadRequest("kind must be attempt or identity.", code="invalid_field")
    upload = request.files.get("image")
    if upload is None:
        raise BadRequest("Missing the image file part named 'image'.", code="missing_field")
    return fields, upload.read()


def find_camshot_by_client_id(db, attempt_id, client_shot_id):
    row = db.execute(
        "SELECT id, attempt_id, bytes FROM camshots WHERE attempt_id = ? AND client_shot_id = ?",
        [attempt_id, client_shot_id],
    ).fetchone()
    return {"id": row[0], "attempt_id": row[1], "bytes": row[2]} if row else None


def stored_palette_colors(config):
    return config["storage.palette_colors"] if config["storage.format"] == "palette" else None


def store_camshot(db, attempt, fields, data):
    """Re-encode, write the file durably, then commit the row and its analysis job.

    Only after both are durable does the caller acknowledge. If the row cannot be
    committed the file is removed again, so nothing is left half-stored.
    """
    config = current_app.config["PROCTORPY"]
    data_dir = current_app.config["DATA_DIR"]
    storage.check_free_space(data_dir, config["storage.min_free_bytes"])
    image = fit_width(decode_upload(data, config["storage.max_pixels"]), config["storage.max_width"])
    png = encode_png(image, config["storage.png_compress_level"], stored_palette_colors(config))
    camshot_id = storage.new_id()
    relative = storage.camshot_path(attempt["course_id"], attempt["quiz_id"], attempt["id"], camshot_id)
    storage.write_durably(data_dir, relative, png, fsync=config["storage.fsync"])
    now = time.time()
    try:
        with write_transaction(db):
            db.execute(
                "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, "
                "width, height, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [camshot_id, attempt["id"], fields["client_shot_id"], fields["kind"], fields["taken_at"], now,
                 relative.as_posix(), len(png), image.width, image.height, hashlib.sha256(png).hexdigest()],
            )
            db.execute(
                "INSERT INTO jobs (camshot_id, created_at, updated_at) VALUES (?, ?, ?)", [camshot_id, now, now]
            )
    except sqlite3.IntegrityError:
        # The same client_shot_id raced in through another worker: keep its copy, not ours.
        storage.remove_quietly(data_dir, relative)
        existing = find_camshot_by_client_id(db, attempt["id"], fields["client_shot_id"])
        if existing is None:
            raise
        return existing
    except BaseException:
        storage.remove_quietly(data_dir, relative)
        raise
    return {"id": camshot_id, "attempt_id": attempt["id"], "bytes": len(png), "width": image.width,
            "height": image.height}


@bp.post("/events")
def post_event():
    return record_event(get_db(), **event_fields(json_body()))


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


def record_event(db, attempt_id, user_id, event_type, at, client_event_id):
    """Store one browser event once; a retry with the same client_event_id answers 200."""
    load_attempt(db, attempt_id, must_belong_to=user_id, status=409)
    try:
        cursor = db.execute(
            "INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (?, ?, ?, ?, ?)",
            [attempt_id, event_type, at, client_event_id, time.time()],
        )
    except sqlite3.IntegrityError:
        row = db.execute(
            "SELECT id FROM events WHERE attempt_id = ? AND client_event_id = ?", [attempt_id, client_event_id]
        ).fetchone()
        return jsonify(id=row[0], attempt_id=attempt_id, type=event_type), 200
    recompute_score(db, current_app.config["PROCTORPY"], attempt_id)
    return jsonify(id=cursor.lastrowid, attempt_id=attempt_id, type=event_type), 201


@bp.get("/attempts/<attempt_id>")
def get_attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    return jsonify(attempt_detail(get_db(), attempt_id))


@bp.get("/camshots/<camshot_id>/image")
def get_camshot_image(camshot_id):
    return image_response(get_db(), camshot_id, moodle_actor())


def image_response(db, camshot_id, actor, detail=""):
    """A camshot's or reference photo's PNG, full size (audited) or as a thumbnail (?size=thumb)."""
    if not storage.ID_PATTERN.match(camshot_id):
        raise BadRequest("A camshot id is 20 lowercase hex characters.", code="invalid_field")
    size = request.args.get("size", "full")
    if size not in ("full", "thumb"):
        raise BadRequest("size must be full or thumb.", code="invalid_field")
    row = db.execute("SELECT path, attempt_id FROM camshots WHERE id = ?", [camshot_id]).fetchone()
    if row is None:
        row = db.execute("SELECT path, attempt_id FROM reference_photos WHERE id = ?", [camshot_id]).fetchone()
    if row is None:
        raise NotFound(f"No camshot or reference photo {camshot_id}.")
    path = current_app.config["DATA_DIR"] / row[0]
    if not path.exists():
        raise NotFound(f"The image file of {camshot_id} is missing; it may have been purged.", code="image_missing")
    if size == "full":
        audit.record(db, "image_view", actor, {"camshot_id": camshot_id, "attempt_id": row[1]}, count=1,
                     detail=detail)
        return send_file(path, mimetype="image/png", max_age=0)
    from PIL import Image

    with Image.open(path) as image:
        image.thumbnail((current_app.config["PROCTORPY"]["storage.thumb_width"], 10_000))
        out = io.BytesIO()
        image.save(out, format="PNG")
    out.seek(0)
    return send_file(out, mimetype="image/png", max_age=0)


def load_attempt(db, attempt_id, must_belong_to=None, status=404):
    """The attempt row as a dict; refuse an unknown attempt or another user's."""
    row = db.execute(
        "SELECT id, user_id, course_id, course_name, quiz_id, cm_id, quiz_name, started_at, finished_at, "
        "settings, legal_hold FROM attempts WHERE id = ?",
        [attempt_id],
    ).fetchone()
    if row is None:
        error = NotFound if status == 404 else Conflict
        raise error(
            f"Attempt {attempt_id} is not registered with the sidecar; register it with "
            f"PUT /api/v1/attempts/{attempt_id} first.",
            code="unknown_attempt",
        )
    keys = ("id", "user_id", "course_id", "course_name", "quiz_id", "cm_id", "quiz_name", "started_at",
            "finished_at", "settings", "legal_hold")
    attempt = dict(zip(keys, row))
    attempt["settings"] = json.loads(attempt["settings"])
    attempt["legal_hold"] = bool(attempt["legal_hold"])
    if must_belong_to is not None and attempt["user_id"] != must_belong_to:
        raise Conflict(
            f"Attempt {attempt_id} belongs to another user than {must_belong_to}.", code="attempt_user_mismatch"
        )
    return attempt


def attempt_summary(db, attempt_id):
    attempt = load_attempt(db, attempt_id)
    attempt["user_fullname"] = db.execute("SELECT fullname FROM users WHERE id = ?", [attempt["user_id"]]).fetchone()[0]
    return attempt


def attempt_detail(db, attempt_id):
    """GET /api/v1/attempts/<id>: the attempt, its shots, events, score and review."""
    attempt = attempt_summary(db, attempt_id)
    shots = [
        {
            "id": r[0], "taken_at": r[1], "kind": r[2], "status": r[3], "faces": r[4],
            "boxes": json.loads(r[5]) if r[5] else [], "distance": r[6], "matched_user_id": r[7],
            "bytes": r[8], "width": r[9], "height": r[10], "error": r[11],
        }
        for r in db.execute(
            "SELECT id, taken_at, kind, status, faces, boxes, distance, matched_user_id, bytes, width, height, error "
            "FROM camshots WHERE attempt_id = ? ORDER BY taken_at, id",
            [attempt_id],
        )
    ]
    events = [
        {"id": r[0], "type": r[1], "at": r[2], "client_event_id": r[3]}
        for r in db.execute(
            "SELECT id, type, at, client_event_id FROM events WHERE attempt_id = ? ORDER BY at, id", [attempt_id]
        )
    ]
    score = db.execute("SELECT value, flagged, metrics, computed_at FROM scores WHERE attempt_id = ?", [attempt_id]).fetchone()
    review = db.execute(
        "SELECT conclusion, comment, reviewer_id, reviewer_name, reviewed_at FROM reviews WHERE attempt_id = ?",
        [attempt_id],
    ).fetchone()
    return {
        "attempt": attempt,
        "shots": shots,
        "events": events,
        "score": (
            {"value": score[0], "flagged": bool(score[1]), "metrics": json.loads(score[2]), "computed_at": score[3]}
            if score else None
        ),
        "review": (
            dict(zip(("conclusion", "comment", "reviewer_id", "reviewer_name", "reviewed_at"), review))
            if review else None
        ),
    }
