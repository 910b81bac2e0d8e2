"""The OpenAPI document of /api/v1, served at /api/v1/openapi.json.

Its word lists and limits are the domain's own constants, so the document says what the
sidecar accepts; tests/test_vocabulary.py holds the Moodle plugin's lists to it.
tests/test_openapi.py holds it to the URL map: every route is documented with its methods,
and nothing documented is missing.
"""
from .analysis.liveness import MAX_FRAMES, MIN_FRAMES
from .attempts import (
    COMMENT_LENGTH, CONCLUSIONS, EVENT_TYPES, IDENTITY_CHECKS, INTERVAL_SECONDS, NAME_LENGTH, PERCENT, RETENTION_DAYS,
)
from .camshots import IMAGE_SIZES, UPLOAD_KINDS
from .live import MAX_WINDOW_MINUTES, PROBLEMS, VERDICTS, WINDOW_MINUTES
from .reports.overview import MAX_USER_IDS
from .retention.export import MAX_QUIZ_IDS
from .scoring import METRICS
from .validation import MAX_ID, TOKEN_LENGTH

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
MS = {"type": "integer", "minimum": 1,
      "description": "Unix time in milliseconds (the browser's clock), from 5 minutes before the attempt started to "
                     "2 minutes past the sidecar's clock; outside that, 400 time_out_of_range"}
SECONDS = {"type": "integer", "minimum": 0, "description": "Unix time in seconds"}
CAMSHOT_ID = {"type": "string", "pattern": "^[0-9a-f]{20}$"}
CLIENT_KEY = {"type": "string", "pattern": f"^[!-~]{{1,{TOKEN_LENGTH}}}$", "maxLength": TOKEN_LENGTH,
              "description": "Idempotency key chosen by the client"}
NAME = {"type": "string", "maxLength": NAME_LENGTH}
ACTOR = {
    "actor_id": {"type": "integer", "minimum": 1, "description": "Moodle user acting, for the audit log"},
    "actor_name": {"type": "string", "maxLength": 200},
}
SELECTION = {
    "course_id": ID, "quiz_id": ID, "user_id": ID, "attempt_id": ID,
    "cm_id": {**ID, "description": "The quiz's course module id, the id in its Moodle address (view.php?id=N)"},
    "before": {**SECONDS, "description": "Attempts finished before this time"},
    "expired": {"type": "boolean", "description": "What the retention policies say has expired"},
}


def bounded(kind, bounds):
    low, high = bounds
    return {"type": kind, "minimum": low, "maximum": high}


def path_id(name, schema=ID):
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query(name, schema, description=""):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


NAMED_USERS = query("named_user_ids", {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
                    f"Another student recognised in the camshots is named only if listed here (at most {MAX_USER_IDS} "
                    "ids separated by commas: those the Moodle viewer may see), else shown as another student of the "
                    "course; every name when absent")
INVOLVEMENT_QUIZZES = query("quiz_ids", {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
                            f"Only in these quizzes, at most {MAX_QUIZ_IDS} ids separated by commas; every quiz "
                            "when absent")
ACTOR_QUERY = [query("actor_id", ACTOR["actor_id"], "Moodle user viewing, for the audit log"),
               query("actor_name", ACTOR["actor_name"])]


def json_body(properties, required=()):
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": list(required)}}}}


def multipart_body(properties, required):
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": list(required)}}}}


def answers(ok, description, media="application/json", *refusals):
    responses = {str(ok): {"description": description, "content": {media: {}}}}
    for status in ("400", "401", *refusals):
        responses[status] = {"$ref": f"#/components/responses/E{status}"}
    return responses


def operation(summary, ok=200, description="OK", media="application/json", refusals=(), parameters=(),
              body=None, security=None):
    op = {"summary": summary, "parameters": list(parameters), "responses": answers(ok, description, media, *refusals)}
    if body:
        op["requestBody"] = body
    if security is not None:
        op["security"] = security
    return op


IMAGE_PART = {"type": "string", "format": "binary", "description": "PNG or JPEG"}
CAMSHOT_FIELDS = {"image": IMAGE_PART, "attempt_id": ID, "user_id": ID, "taken_at": MS,
                  "client_shot_id": CLIENT_KEY, "kind": {"type": "string", "enum": list(UPLOAD_KINDS)}}
EVENT_FIELDS = {"attempt_id": ID, "user_id": ID, "type": {"type": "string", "enum": list(EVENT_TYPES)}, "at": MS,
                "client_event_id": CLIENT_KEY}
BEARER = [{"uploadToken": []}]


def document(version):
    """The whole document for this sidecar version."""
    attempt = [path_id("attempt_id")]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "proctorpy sidecar API",
            "version": version,
            "description": (
                "Every /api/v1 call but the direct-upload ones is signed with the shared secret: "
                "X-Proctorpy-Signature = hex(HMAC-SHA256(secret, METHOD \\n PATH?QUERY \\n TIMESTAMP \\n "
                "NONCE \\n hex(SHA256(body)) [\\n SITE])), the sixth line when X-Proctorpy-Site names the "
                "calling Moodle site (its site identifier): a sidecar serves the first site that names itself "
                "and refuses others with 409 site_mismatch. Refusals are JSON {error, message} with a 4xx "
                "status (503/507 when the sidecar cannot store)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"timestamp": [], "nonce": [], "signature": []}],
        "paths": {
            "/api/v1/ping": {"get": operation("Signed no-op: proves the secret and the clocks")},
            "/api/v1/openapi.json": {"get": operation("This document")},
            "/api/v1/attempts/{attempt_id}": {
                "put": operation(
                    "Register or update an attempt with the quiz's settings snapshot", ok=201,
                    description="Created (200 when it was already registered)", refusals=("409",),
                    parameters=attempt,
                    body=json_body({
                        "user_id": ID, "user_fullname": NAME, "course_id": ID, "course_name": NAME,
                        "quiz_id": ID, "cm_id": ID, "quiz_name": NAME, "started_at": SECONDS,
                        "interval_min": bounded("integer", INTERVAL_SECONDS),
                        "interval_max": bounded("integer", INTERVAL_SECONDS),
                        "identity_check": {"type": "string", "enum": list(IDENTITY_CHECKS)},
                        "threshold": bounded("number", PERCENT),
                        "weights": {"type": "object", "properties": {m: bounded("number", PERCENT) for m in METRICS},
                                    "additionalProperties": False},
                        "retention_days": {**bounded("integer", RETENTION_DAYS), "nullable": True},
                    }, required=("user_id", "course_id", "quiz_id", "cm_id", "started_at")),
                ),
                "get": operation("The attempt, its shots with verdicts, events, score, review and reference photos",
                                 refusals=("400", "404"), parameters=[
                                     *attempt, *ACTOR_QUERY,
                                     query("view", {"type": "string", "enum": ["report"]},
                                           "report: a person reads the attempt (Moodle's web service), so the "
                                           "read is audited as a report view")]),
            },
            "/api/v1/attempts/{attempt_id}/finish": {"post": operation(
                "Record the attempt's end. Answers the attempt with its score as now stored: {value (null under "
                "the shortest duration scored), flagged (below the quiz's threshold), threshold, final (false while "
                "camshots wait for analysis)}", refusals=("404",), parameters=attempt,
                body=json_body({"finished_at": SECONDS}, required=("finished_at",)))},
            "/api/v1/camshots": {"post": operation(
                "Store one camshot; the same client_shot_id again answers 200 with the same id", ok=201,
                description="Stored", refusals=("409", "413", "415", "422", "429", "503", "507"),
                body=multipart_body(CAMSHOT_FIELDS, ("image", "attempt_id", "user_id", "taken_at",
                                                     "client_shot_id")))},
            "/api/v1/events": {"post": operation(
                "Record one browser event; the same client_event_id again answers 200", ok=201,
                description="Recorded", refusals=("409", "429"),
                body=json_body(EVENT_FIELDS, required=tuple(EVENT_FIELDS)))},
            "/api/v1/camshots/{camshot_id}/image": {"get": operation(
                "A camshot's or reference photo's PNG", media="image/png", refusals=("404",),
                parameters=[path_id("camshot_id", CAMSHOT_ID),
                            query("size", {"type": "string", "enum": list(IMAGE_SIZES)}), *ACTOR_QUERY])},
            "/api/v1/users/{user_id}/reference": {
                "put": operation(
                    "Store the user's Moodle profile photo as reference", refusals=("413", "415", "422", "503", "507"),
                    parameters=[path_id("user_id")], body=multipart_body(
                        {"image": IMAGE_PART, "changed_at": {**SECONDS, "description": (
                            "When the photo became the user's picture (Moodle's file time), not ahead of the clock; "
                            "compared with identity.recent_change_days. Default: now")}}, ("image",))),
                "delete": operation(
                    "Privacy delete of the user's profile reference photos and face encodings; the attempts stay "
                    "(the user goes too when none is left)", refusals=("404",),
                    parameters=[path_id("user_id"), *ACTOR_QUERY]),
            },
            "/api/v1/attempts/{attempt_id}/identity/approve": {"post": operation(
                "A teacher approves the identity photo of an attempt whose face must match and that had no usable "
                "reference: it becomes the attempt's reference (and the user's, without a profile photo) and the "
                "identity step passes; audited. The attempt's identity state", refusals=("404", "409", "503"),
                parameters=attempt, body=json_body({"camshot_id": CAMSHOT_ID, **ACTOR}, ("camshot_id",)))},
            "/api/v1/attempts/{attempt_id}/identity/refuse": {"post": operation(
                "A teacher refuses the identity photo of an attempt whose face must match and that had no usable "
                "reference: its identity step stays closed and later photos are refused (409); audited. The "
                "attempt's identity state", refusals=("404", "409"), parameters=attempt,
                body=json_body({"camshot_id": CAMSHOT_ID, **ACTOR}, ("camshot_id",)))},
            "/api/v1/attempts/{attempt_id}/identity/challenge": {"post": operation(
                "Draw the liveness challenge of the attempt's next identity check, at random among "
                "identity.challenges: {id, kind (closer, left, right), instruction, frames (how many to take), "
                "seconds (over how long), expires_at}. Only during the identity step (409), and not past "
                "identity.max_refusals refused checks (409 identity_refusals_exhausted: the teacher lets the "
                "attempt go on)", ok=201, refusals=("409",), parameters=attempt,
                body=json_body({"user_id": ID}, ("user_id",)))},
            "/api/v1/attempts/{attempt_id}/identity": {"get": operation(
                "How the attempt's identity stands: passed, its frozen reference (frozen, none, not_frozen), a "
                "teacher's decision, its latest identity photo and the profile photo changes recorded for it",
                refusals=("404",), parameters=attempt), "post": operation(
                "Identity check at the start: the frames taken while the student followed the challenge must show a "
                "live face doing it (not the profile photo, not a still picture); the frame facing the camera is "
                "stored as the identity photo and answers at once whether it passes, with refusals_left. The "
                "challenge is used once: unknown (404), used or expired (409). Only during the identity step: a "
                "finished attempt, or one whose check has passed, is refused (409)",
                refusals=("400", "404", "409", "413", "415", "422", "429", "503", "507"), parameters=attempt,
                body=multipart_body({"frame": {"type": "array", "items": IMAGE_PART, "minItems": MIN_FRAMES,
                                               "maxItems": MAX_FRAMES},
                                     "user_id": ID, "taken_at": MS, "client_shot_id": CLIENT_KEY,
                                     "challenge_id": CLIENT_KEY},
                                    ("frame", "user_id", "taken_at", "client_shot_id", "challenge_id")))},
            "/api/v1/attempts/{attempt_id}/report": {"get": operation(
                "Per-attempt report as an HTML fragment. Images are referenced as <image_base><camshot id> "
                "and <image_base><camshot id>?size=thumb", media="text/html", refusals=("404",),
                parameters=[*attempt, query("image_base", {"type": "string", "maxLength": 500},
                                            "Prefix of image addresses: a relative path or http(s) URL without "
                                            "quotes, spaces or angle brackets. The report appends <camshot id> for "
                                            "the full image and <camshot id>?size=thumb for the thumbnail; the "
                                            "caller maps that to GET /api/v1/camshots/<id>/image[?size=thumb] "
                                            "(Moodle through its capability-checked image.php). Default: the "
                                            "setting reports.image_base, \"images/\""),
                            query("tz", {"type": "string", "maxLength": 64}, "IANA time zone for times shown"),
                            query("full_size", {"type": "string", "enum": ["0", "1"]},
                                  "0: thumbnails without links to the full-size image, for a viewer who may not "
                                  "open it (Moodle's downloadimages capability)"),
                            query("link_base", {"type": "string", "maxLength": 500},
                                  "Prefix to which the report appends an attempt id of this quiz to link another "
                                  "student recognised and named (named_user_ids) to their attempt; no link without it"),
                            NAMED_USERS, *ACTOR_QUERY])},
            "/api/v1/attempts/{attempt_id}/report.pdf": {"get": operation(
                "The same report as an A4 PDF", media="application/pdf", refusals=("404",),
                parameters=[*attempt, query("tz", {"type": "string", "maxLength": 64}), NAMED_USERS, *ACTOR_QUERY])},
            "/api/v1/quizzes/{quiz_id}/attempts": {"get": operation(
                "Overview of a quiz's attempts", refusals=("404",),
                parameters=[
                    path_id("quiz_id"),
                    query("format", {"type": "string", "enum": ["json", "html", "csv"]}),
                    query("sort", {"type": "string", "maxLength": 40}, "Column, prefixed with - for descending"),
                    query("dir", {"type": "string", "enum": ["asc", "desc"]}),
                    query("flagged", {"type": "string", "enum": ["", "0", "1"]}),
                    query("review", {"type": "string", "enum": ["", "none", "accepted", "rejected"]}),
                    query("q", {"type": "string", "maxLength": 100}, "Student name contains"),
                    query("user_ids", {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
                          f"Only these students' attempts, at most {MAX_USER_IDS} ids separated by commas (those "
                          "of the Moodle viewer's group)"),
                    query("search", {"type": "string", "maxLength": 100}, "Same as q"),
                    query("page", ID), query("perpage", ID),
                    query("tz", {"type": "string", "maxLength": 64}),
                    query("link_base", {"type": "string", "maxLength": 500}),
                    query("sort_base", {"type": "string", "maxLength": 500}),
                    *ACTOR_QUERY,
                ])},
            "/api/v1/quizzes/{quiz_id}/live": {"get": operation(
                "The quiz's attempts in progress, problems first: per attempt the student, the latest camshot (id, "
                "taken_at, verdict: one of " + ", ".join(VERDICTS) + "; matched_user_id for another student), "
                "seconds since a camshot arrived and whether the camera is quiet (longer than a capture interval "
                "and its grace), times the student left the page within the last minutes and the latest focus or "
                "tab event, the score so far and whether it is below the quiz's threshold, and problems (in "
                "order: " + ", ".join(PROBLEMS) + "). An unknown quiz has none",
                refusals=("400",),
                parameters=[
                    path_id("quiz_id"),
                    *ACTOR_QUERY,
                    query("view", {"type": "string", "enum": ["opened"]},
                          "opened: a teacher opened the live view, audited with the actor; refreshes leave it out"),
                    query("user_ids", {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
                          f"Only these students' attempts, at most {MAX_USER_IDS} ids separated by commas (those "
                          "of the Moodle viewer's group)"),
                    query("minutes", bounded("integer", (1, MAX_WINDOW_MINUTES)),
                          f"How far back recent events reach (default {WINDOW_MINUTES})"),
                ])},
            "/api/v1/attempts/{attempt_id}/review": {"post": operation(
                "Record the reviewer's conclusion", refusals=("404",), parameters=attempt,
                body=json_body({"conclusion": {"type": "string", "enum": list(CONCLUSIONS)},
                                "comment": {"type": "string", "maxLength": COMMENT_LENGTH}, "reviewer_id": ID,
                                "reviewer_name": NAME}, required=("conclusion",)))},
            "/api/v1/attempts/{attempt_id}/hold": {"post": operation(
                "Set or release the attempt's legal hold", refusals=("404",), parameters=attempt,
                body=json_body({"hold": {"type": "boolean"}, **ACTOR}, required=("hold",)))},
            "/api/v1/purge": {"post": operation(
                "Purge a selection (dry run by default): counts and bytes",
                body=json_body({**SELECTION, "dry_run": {"type": "boolean"}, **ACTOR}))},
            "/api/v1/exports": {"post": operation(
                "ZIP of a selection's camshots with manifest.csv", media="application/zip",
                body=json_body({**SELECTION, "include_reports": {"type": "boolean"}, **ACTOR}))},
            "/api/v1/users/{user_id}/data": {"get": operation(
                "Privacy export: everything held about the user, as a ZIP; quiz_ids or references narrow it to "
                "what they name", media="application/zip", refusals=("404",),
                parameters=[path_id("user_id"),
                            query("quiz_ids", {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
                                  f"Only the attempts at these quizzes, at most {MAX_QUIZ_IDS} ids separated by commas"),
                            query("references", {"type": "string", "enum": ["0", "1"]},
                                  "1: with the profile reference photos (the default when neither parameter is given)"),
                            *ACTOR_QUERY])},
            "/api/v1/users/{user_id}/involvement": {
                "get": operation(
                    "Privacy export of the user in other students' attempts: the reviews they wrote (quiz_id, "
                    "attempt_id, conclusion, comment, reviewed_at) and the camshots that recognised their face "
                    "(quiz_id, attempt_id, camshot_id, taken_at); empty lists for a user found in none",
                    parameters=[path_id("user_id"), INVOLVEMENT_QUIZZES,
                                query("view", {"type": "string", "enum": ["export"]},
                                      "export: a privacy export, audited; absent: finding where a request must look"),
                                *ACTOR_QUERY]),
                "delete": operation(
                    "Privacy delete of the user in other students' attempts: their reviews lose the reviewer's "
                    "id and name, the camshots no longer name them and those attempts are scored again; counts",
                    parameters=[path_id("user_id"), INVOLVEMENT_QUIZZES, *ACTOR_QUERY]),
            },
            "/api/v1/quizzes/{quiz_id}/involved": {"get": operation(
                "Who is involved in a quiz's attempts without being their student: reviewer_ids and "
                "mentioned_user_ids (students whose face a camshot of someone else's attempt recognised)",
                parameters=[path_id("quiz_id")])},
            "/api/v1/users/{user_id}": {"delete": operation(
                "Privacy delete: everything held about the user", parameters=[path_id("user_id"), *ACTOR_QUERY])},
            "/api/v1/direct/camshots": {"post": operation(
                "Direct upload of a camshot from the browser with an upload token", ok=201, description="Stored",
                refusals=("403", "409", "413", "415", "422", "429", "503", "507"), security=BEARER,
                body=multipart_body(CAMSHOT_FIELDS, ("image", "attempt_id", "user_id", "taken_at",
                                                     "client_shot_id")))},
            "/api/v1/direct/events": {"post": operation(
                "Direct upload of a browser event with an upload token", ok=201, description="Recorded",
                refusals=("403", "409", "429"), security=BEARER,
                body=json_body(EVENT_FIELDS, required=tuple(EVENT_FIELDS)))},
        },
        "components": {
            "securitySchemes": {
                "timestamp": {"type": "apiKey", "in": "header", "name": "X-Proctorpy-Timestamp"},
                "nonce": {"type": "apiKey", "in": "header", "name": "X-Proctorpy-Nonce"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-Proctorpy-Signature"},
                "uploadToken": {"type": "http", "scheme": "bearer",
                                "description": "v1.<base64url(JSON {a, u, exp})>.<hex HMAC-SHA256>"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"}}}},
            "responses": {
                f"E{status}": {"description": text, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}
                for status, text in [
                    ("400", "Malformed: a field is missing or of the wrong type"),
                    ("401", "Not signed, bad signature, clock skew or replayed nonce"),
                    ("403", "Not allowed (bad or expired upload token)"),
                    ("404", "No such attempt, camshot or user"),
                    ("409", "Does not fit the current state (unknown attempt, another user's attempt, another Moodle site)"),
                    ("413", "Body or image too large (bytes, pixels or a side)"),
                    ("415", "Not a readable PNG or JPEG"),
                    ("422", "Readable, but unusable (no face or several on a reference photo, a strip no camera takes)"),
                    ("429", "Over the configured rate; Retry-After says when to try again"),
                    ("503", "The sidecar cannot store now (database locked, data dir read-only)"),
                    ("507", "The disk is under its free-space floor"),
                ]
            },
        },
    }
