"""The signed capture API: happy paths and every kind of bad input."""
import io
import json
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from conftest import SECRET, attempt_fields, convert_originals, face_bytes, png_bytes, png_declaring, stored_keys
from sidecar.attempts import EVENT_TYPES, event_fields, settings_snapshot
from sidecar.camshots import upload_fields
from sidecar.client import multipart
from sidecar.config import DEFAULTS, load_config
from sidecar.errors import ProctorpyError
from sidecar.images import decode_upload
from sidecar.signing import make_token, signed_headers

PLUGIN = Path(__file__).resolve().parents[1] / "moodle_plugin" / "quizaccess_proctorpy"


def stored_files(app):
    """The keys of the camshot images stored, whichever the store."""
    return stored_keys(app.config["IMAGES"])


def count(app, table):
    from sidecar.db import connect

    db = connect(app.config["DATABASE"])
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


@pytest.mark.engines
def test_healthz_is_unsigned(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["queue"]["depth"] == 0


def test_ping_proves_the_secret(api):
    response = api.get("/api/v1/ping")
    assert response.status_code == 200 and response.json["ok"] is True


@pytest.mark.engines
def test_register_attempt_then_update(api):
    created = api.put_attempt(1)
    assert created.status_code == 201
    assert created.json["quiz_name"] == "Midterm"
    assert created.json["settings"]["identity_check"] == "match"
    updated = api.put_attempt(1, quiz_name="Midterm (resit)")
    assert updated.status_code == 200
    assert updated.json["quiz_name"] == "Midterm (resit)"


@pytest.mark.engines
def test_camshot_is_stored_re_encoded_and_listed(app, api):
    api.put_attempt(1)
    jpeg = face_bytes("obama/obama-480p.jpg", fmt="JPEG")
    response = api.post_camshot(jpeg, content_type="image/jpeg", client_shot_id="shot-1")
    assert response.status_code == 201, response.json
    shot_id = response.json["id"]
    assert stored_files(app) == [] and count(app, "camshot_originals") == 1  # its PNG is the worker's to write
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    files = stored_files(app)
    assert files == [f"images/3/11/1/{shot_id}.png"]
    with Image.open(io.BytesIO(app.config["IMAGES"].get(files[0]))) as stored:
        assert stored.format == "PNG"
        assert stored.width == 640  # scaled down to storage.max_width
        assert not stored.info.get("exif")
    detail = api.get("/api/v1/attempts/1").json
    assert [s["id"] for s in detail["shots"]] == [shot_id]
    assert detail["shots"][0]["status"] == "pending"
    assert count(app, "jobs") == 1


@pytest.mark.engines
def test_camshot_retry_is_idempotent(app, api):
    api.put_attempt(1)
    first = api.post_camshot(png_bytes(), client_shot_id="same")
    again = api.post_camshot(png_bytes(), client_shot_id="same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert count(app, "camshot_originals") == 1
    assert count(app, "camshots") == 1


@pytest.mark.engines
def test_image_is_served_full_and_as_thumbnail(api):
    api.put_attempt(1)
    shot_id = api.post_camshot(png_bytes(320, 240)).json["id"]
    full = api.get(f"/api/v1/camshots/{shot_id}/image")
    assert full.status_code == 200 and full.mimetype == "image/png"
    assert full.data.startswith(b"\x89PNG")
    full.close()
    thumb = api.get(f"/api/v1/camshots/{shot_id}/image?size=thumb")
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.width == 160


@pytest.mark.engines
def test_events_are_recorded_once(api):
    api.put_attempt(1)
    event = {"attempt_id": 1, "user_id": 7, "type": "tab_hidden", "at": int(time.time() * 1000),
             "client_event_id": "e1"}
    assert api.json("POST", "/api/v1/events", event).status_code == 201
    assert api.json("POST", "/api/v1/events", event).status_code == 200
    assert [e["type"] for e in api.get("/api/v1/attempts/1").json["events"]] == ["tab_hidden"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_is_accepted(api, event_type):
    api.put_attempt(1)
    event = {"attempt_id": 1, "user_id": 7, "type": event_type, "at": int(time.time() * 1000),
             "client_event_id": "e1"}
    assert api.json("POST", "/api/v1/events", event).status_code == 201
    assert [e["type"] for e in api.get("/api/v1/attempts/1").json["events"]] == [event_type]


def test_finish_records_the_end(api):
    api.put_attempt(1, started_at=1000)
    response = api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": 4000})
    assert response.status_code == 200 and response.json["finished_at"] == 4000
    refused = api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": 10})
    assert refused.status_code == 400 and "before" in refused.json["message"]


@pytest.mark.engines
def test_finish_answers_the_stored_score(api):
    # No camshot in 50 minutes: the camera was off nearly all the time, far below the threshold of 70.
    api.put_attempt(1, started_at=1000)
    answer = api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": 4000}).json
    assert answer["score"]["flagged"] is True and answer["score"]["value"] < 70
    assert answer["score"]["threshold"] == 70 and answer["score"]["final"] is True
    stored = api.get("/api/v1/attempts/1").json["score"]
    assert (stored["value"], stored["flagged"]) == (answer["score"]["value"], True)
    # Under the shortest duration scored, no score and no flag.
    api.put_attempt(2, started_at=1000)
    short = api.json("POST", "/api/v1/attempts/2/finish", {"finished_at": 1030}).json["score"]
    assert (short["value"], short["flagged"]) == (None, False)


# --- signatures -------------------------------------------------------------------------

def test_unsigned_request_is_refused(client):
    response = client.get("/api/v1/attempts/1")
    assert response.status_code == 401
    assert response.json["error"] == "unsigned"


def test_wrong_secret_is_refused(client):
    headers = signed_headers("another-secret-entirely", "GET", "/api/v1/ping")
    response = client.get("/api/v1/ping", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "bad_signature"


def test_tampered_body_is_refused(client):
    body = json.dumps(attempt_fields()).encode()
    headers = signed_headers(SECRET, "PUT", "/api/v1/attempts/1", body)
    response = client.put("/api/v1/attempts/1", data=body.replace(b"Midterm", b"Mid-term"),
                          content_type="application/json", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "bad_signature"


def test_signature_covers_the_query(client):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping?a=1")
    assert client.get("/api/v1/ping?a=2", headers=headers).status_code == 401


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_stale_timestamp_is_refused(client, offset):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping", timestamp=int(time.time()) + offset)
    response = client.get("/api/v1/ping", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "clock_skew"
    assert "NTP" in response.json["message"]


@pytest.mark.engines
def test_replayed_nonce_is_refused(client):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping")
    assert client.get("/api/v1/ping", headers=headers).status_code == 200
    replay = client.get("/api/v1/ping", headers=headers)
    assert replay.status_code == 401 and replay.json["error"] == "replayed_nonce"


@pytest.mark.parametrize("header, value, code", [
    ("X-Proctorpy-Timestamp", "yesterday", "bad_timestamp"),
    ("X-Proctorpy-Nonce", "short", "bad_nonce"),
    ("X-Proctorpy-Nonce", "z" * 32, "bad_nonce"),
])
def test_malformed_signature_headers_are_refused(client, header, value, code):
    headers = signed_headers(SECRET, "GET", "/api/v1/ping")
    headers[header] = value
    response = client.get("/api/v1/ping", headers=headers)
    assert response.status_code == 401 and response.json["error"] == code


# --- bad camshots leave nothing behind ---------------------------------------------------

def truncated_png():
    return png_bytes()[:300]


def bomb_png():
    """A tiny file that declares 20000x20000 pixels."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    return out.getvalue()


def gif_bytes():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    return out.getvalue()


def refusal(call, *args):
    """The refusal a validator raises: (status, code, message)."""
    with pytest.raises(ProctorpyError) as refused:
        call(*args)
    return refused.value.status, refused.value.code, refused.value.message


BAD_IMAGES = [
    (b"this is not an image", 415, "not_an_image"),
    (b"", 415, "empty_image"),
    (truncated_png(), 415, "corrupt_image"),
    (bomb_png(), 413, "too_many_pixels"),
    (gif_bytes(), 415, "not_an_image"),
    (b"\x89PNG\r\n\x1a\n" + zlib.compress(b"x" * 100), 415, "not_an_image"),
]


@pytest.mark.parametrize("image, status, code", BAD_IMAGES)
def test_bad_images_are_refused_by_the_decoder(image, status, code):
    assert refusal(decode_upload, image, load_config(environ={}))[:2] == (status, code)


# The decoder's refusals above; here, through the route, that a refused image leaves no file, row or job.
@pytest.mark.parametrize("image, status, code", [BAD_IMAGES[0], BAD_IMAGES[3]])
def test_bad_images_are_refused_without_trace(app, api, image, status, code):
    api.put_attempt(1)
    response = api.post_camshot(image)
    assert response.status_code == status, response.json
    assert response.json["error"] == code
    assert stored_files(app) == []
    assert count(app, "camshots") == 0 and count(app, "jobs") == 0


def test_oversized_body_is_refused(app, api):
    api.put_attempt(1)
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = api.post_camshot(png_bytes(640, 480, (1, 2, 3)) + b"\0" * 20_000)
    assert response.status_code == 413 and response.json["error"] == "too_large"
    assert stored_files(app) == []


def test_camshot_for_unknown_attempt_is_refused(app, api):
    response = api.post_camshot(png_bytes(), attempt_id=99)
    assert response.status_code == 409 and response.json["error"] == "unknown_attempt"
    assert "PUT /api/v1/attempts/99" in response.json["message"]
    assert stored_files(app) == []


def test_camshot_of_another_user_is_refused(app, api):
    api.put_attempt(1)
    response = api.post_camshot(png_bytes(), user_id=8)
    assert response.status_code == 409 and response.json["error"] == "attempt_user_mismatch"
    assert stored_files(app) == []


UPLOAD_FORM = {"attempt_id": "1", "user_id": "7", "taken_at": "1", "client_shot_id": "c1", "kind": "attempt"}


@pytest.mark.parametrize("fields, code, message", [
    ({"attempt_id": ""}, "missing_field", "attempt_id"),
    ({"client_shot_id": None}, "missing_field", "client_shot_id"),
    ({"taken_at": "soon"}, "invalid_field", "taken_at"),
    ({"taken_at": "yesterday"}, "invalid_field", "taken_at"),
    ({"attempt_id": "1.5"}, "invalid_field", "attempt_id"),
    ({"user_id": "-3"}, "invalid_field", "user_id"),
    ({"client_shot_id": "has space"}, "invalid_field", "client_shot_id"),
    ({"kind": "selfie"}, "invalid_field", "kind"),
    # An identity photo posted outside the identity step could become the attempt's reference mid-exam.
    ({"kind": "identity"}, "identity_outside_check", "identity step"),
])
def test_upload_fields_are_checked(fields, code, message):
    form = {k: v for k, v in {**UPLOAD_FORM, **fields}.items() if v is not None}
    status, refused_code, refused_message = refusal(upload_fields, form)
    assert (status, refused_code) == (400, code) and message in refused_message


def test_upload_fields_are_read_as_typed_values():
    assert upload_fields({**UPLOAD_FORM, "kind": ""}) == {
        "attempt_id": 1, "user_id": 7, "taken_at": 1, "client_shot_id": "c1", "kind": "attempt"}


# upload_fields' refusals above; here, through the route, that they answer 400 and store nothing.
@pytest.mark.parametrize("fields, message", [
    ({"attempt_id": ""}, "attempt_id"),
    ({"kind": "identity"}, "identity step"),
])
def test_camshot_fields_are_checked(app, api, fields, message):
    from sidecar.client import multipart

    api.put_attempt(1)
    form = {"attempt_id": 1, "user_id": 7, "taken_at": 1, "client_shot_id": "c1", "kind": "attempt"}
    form.update(fields)
    body, ctype = multipart(form, {"image": ("s.png", png_bytes(), "image/png")})
    response = api.open("POST", "/api/v1/camshots", body, ctype)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert stored_files(app) == []


def test_camshot_without_image_part_is_refused(api):
    from sidecar.client import multipart

    api.put_attempt(1)
    body, ctype = multipart({"attempt_id": 1, "user_id": 7, "taken_at": 1, "client_shot_id": "c"}, {})
    response = api.open("POST", "/api/v1/camshots", body, ctype)
    assert response.status_code == 400 and "image" in response.json["message"]


@pytest.mark.parametrize("path", ["/api/v1/attempts/abc", "/api/v1/attempts/0", "/api/v1/attempts/1e3",
                                  "/api/v1/attempts/99999999999999999999"])
def test_ids_that_are_not_integers_are_refused(api, path):
    response = api.get(path)
    assert response.status_code == 400
    assert "attempt_id must be a positive integer" in response.json["message"]


@pytest.mark.parametrize("patch, message", [
    ({"interval_min": 50, "interval_max": 10}, "interval_min must not be greater"),
    ({"interval_max": 0}, "interval_max must be between 1 and 3600"),
    ({"interval_min": "20"}, "interval_min must be a number"),
    ({"identity_check": "retina"}, "identity_check"),
    ({"threshold": 101}, "threshold"),
    ({"threshold": True}, "threshold must be a number"),
    ({"weights": {"no_face": 1, "sneezing": 2}}, "sneezing"),
    ({"weights": [1, 2]}, "weights must be an object"),
    ({"weights": {"no_face": 120}}, "weights.no_face"),
    ({"retention_days": 0}, "retention_days"),
])
def test_settings_snapshot_is_checked(patch, message):
    status, code, refused_message = refusal(settings_snapshot, attempt_fields(**patch))
    assert (status, code) == (400, "invalid_field") and message in refused_message


def test_settings_snapshot_keeps_the_quiz_settings():
    assert settings_snapshot(attempt_fields(weights={"no_face": 2}, retention_days=30)) == {
        "interval_min": 20, "interval_max": 40, "identity_check": "match", "threshold": 70,
        "weights": {"no_face": 2}, "retention_days": 30}


# The fields register() reads itself, and one of settings_snapshot's refusals (above) for the wiring.
@pytest.mark.parametrize("patch, message", [
    ({"user_id": None}, "Missing required field(s): user_id"),
    ({"course_id": "three"}, "course_id"),
    ({"interval_min": 50, "interval_max": 10}, "interval_min must not be greater"),
    ({"quiz_name": "x" * 300}, "quiz_name"),
])
def test_attempt_fields_are_checked(api, patch, message):
    response = api.json("PUT", "/api/v1/attempts/1", attempt_fields(**patch))
    assert response.status_code == 400
    assert message in response.json["message"]


def test_attempt_cannot_change_owner(api):
    api.put_attempt(1)
    response = api.put_attempt(1, user_id=8)
    assert response.status_code == 409 and response.json["error"] == "attempt_user_mismatch"


def test_non_json_bodies_are_refused(api):
    response = api.open("PUT", "/api/v1/attempts/1", b"{not json", "application/json")
    assert response.status_code == 400 and response.json["error"] == "not_json"
    response = api.open("PUT", "/api/v1/attempts/1", b"[1, 2]", "application/json")
    assert response.status_code == 400 and response.json["error"] == "not_json"


EVENT = {"attempt_id": 1, "user_id": 7, "type": "tab_hidden", "at": 1, "client_event_id": "e1"}


@pytest.mark.parametrize("patch, code, message", [
    ({"type": "sneeze"}, "invalid_field", "type must be one of"),
    ({"type": "screenshot"}, "invalid_field", "type must be one of"),
    ({"at": "now"}, "invalid_field", "at must be a positive integer"),
    ({"attempt_id": "one"}, "invalid_field", "attempt_id"),
    ({"user_id": 0}, "invalid_field", "user_id"),
    ({"client_event_id": None}, "missing_field", "client_event_id"),
    ({"client_event_id": "has space"}, "invalid_field", "client_event_id"),
    ({"type": None, "at": None}, "missing_field", "type, at"),
])
def test_event_fields_are_checked(patch, code, message):
    status, refused_code, refused_message = refusal(event_fields, {**EVENT, **patch})
    assert (status, refused_code) == (400, code) and message in refused_message


# event_fields' refusals above; here, through the route, one of them and the attempt that is not the user's.
@pytest.mark.parametrize("patch, status", [
    ({"type": "sneeze"}, 400),
    ({"attempt_id": 5}, 409),
])
def test_bad_events_are_refused(api, patch, status):
    api.put_attempt(1)
    event = {"attempt_id": 1, "user_id": 7, "type": "tab_hidden", "at": 1, "client_event_id": "e1"}
    event.update(patch)
    response = api.json("POST", "/api/v1/events", event)
    assert response.status_code == status and response.json["message"]


def test_unknown_route_and_method_answer_json(api, client):
    assert client.get("/nope").json["error"] == "not_found"
    response = client.delete("/healthz")
    assert response.status_code == 405 and "DELETE" in response.json["message"]


def test_image_ids_are_checked(api):
    assert api.get("/api/v1/camshots/../../etc/passwd/image").status_code in (400, 404)
    assert api.get("/api/v1/camshots/ZZZ/image").status_code == 400
    assert api.get("/api/v1/camshots/" + "0" * 20 + "/image").status_code == 404


# The free-space floor guards the image folder's disk (embedded backend); test_object_store shows a bucket ignores it.
def test_disk_guard_refuses_camshots(app, api):
    api.put_attempt(1)
    app.config["PROCTORPY"]["storage.min_free_bytes"] = 2**62
    response = api.post_camshot(png_bytes())
    assert response.status_code == 507 and response.json["error"] == "disk_full"
    assert stored_files(app) == []
    assert app.test_client().get("/healthz").json["disk"]["accepting_camshots"] is False


def test_truncated_jpeg_is_refused_after_libraries_that_allow_truncation_load(app, api):
    import weasyprint  # noqa: F401  (sets PIL's LOAD_TRUNCATED_IMAGES on import)
    from PIL import ImageFile

    from sidecar.analysis.faces import load_face_recognition

    load_face_recognition()
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as a library may leave it
    api.put_attempt(1)
    jpeg = face_bytes("obama/obama-480p.jpg", fmt="JPEG")
    response = api.post_camshot(jpeg[: len(jpeg) // 2], content_type="image/jpeg")
    assert response.status_code == 415 and response.json["error"] == "corrupt_image"
    assert stored_files(app) == []


TALL_OR_WIDE = [
    (png_bytes(640, 26000), 413, "image_too_large", "640x26000 pixels; neither side may be longer than 4096"),
    (png_declaring(640, 26000), 413, "image_too_large", "640x26000"),
    (png_declaring(26000, 640), 413, "image_too_large", "26000x640"),
    (png_bytes(2000, 400), 422, "bad_aspect_ratio", "5.0 times as wide as it is tall; at most 4 times"),
    (png_bytes(100, 401), 422, "bad_aspect_ratio", "4.0 times as tall as it is wide"),
    (png_declaring(64, 4000), 422, "bad_aspect_ratio", "62.5 times as tall"),
]


@pytest.mark.parametrize("image, status, code, message", TALL_OR_WIDE)
def test_tall_or_wide_images_are_refused_by_the_decoder(image, status, code, message):
    refused_status, refused_code, refused_message = refusal(decode_upload, image, load_config(environ={}))
    assert (refused_status, refused_code) == (status, code) and message in refused_message


# The decoder's refusals above; here, on both routes that take camshots, that they answer and store nothing.
@pytest.mark.parametrize("image, status, code, message", [TALL_OR_WIDE[1], TALL_OR_WIDE[3]])
@pytest.mark.parametrize("route", ["signed", "direct"])
def test_tall_or_wide_images_are_refused_from_their_header(app, api, image, status, code, message, route):
    api.put_attempt(1)
    if route == "signed":
        response = api.post_camshot(image)
    else:
        response = post_direct_camshot(api.client, image, "tall-1")
    assert response.status_code == status and response.json["error"] == code
    assert message in response.json["message"]
    assert stored_files(app) == []
    assert count(app, "camshots") == 0 and count(app, "jobs") == 0


def test_a_camera_frame_within_the_bounds_is_taken(api):
    api.put_attempt(1)
    assert api.post_camshot(png_bytes(400, 100)).status_code == 201  # 4:1, the limit itself
    assert api.post_camshot(png_bytes(1920, 1080)).status_code == 201


def post_direct_camshot(client, image, client_shot_id, attempt_id=1, user_id=7):
    token = make_token(SECRET, {"a": attempt_id, "u": user_id, "exp": int(time.time()) + 600})
    body, ctype = multipart({"attempt_id": attempt_id, "user_id": user_id, "taken_at": int(time.time() * 1000),
                             "client_shot_id": client_shot_id, "kind": "attempt"},
                            {"image": ("shot.png", image, "image/png")})
    return client.post("/api/v1/direct/camshots", data=body, content_type=ctype,
                       headers={"Authorization": "Bearer " + token})


@pytest.fixture
def allowance_of_three(config):
    config["capture.max_shots_per_minute"] = 3
    config["capture.max_events_per_minute"] = 2
    return config


@pytest.mark.engines
def test_forwarded_camshots_over_the_allowance_are_refused_with_retry_after(app, api, allowance_of_three):
    api.put_attempt(1)
    image = png_bytes(320, 240)
    assert [api.post_camshot(image, client_shot_id=f"s{n}").status_code for n in range(3)] == [201] * 3
    over = api.post_camshot(image, client_shot_id="s3")
    assert over.status_code == 429 and over.json["error"] == "rate_limited"
    assert over.headers["Retry-After"] == "20" and "More than 3 camshots per minute for attempt 1" in over.json["message"]
    assert count(app, "camshots") == 3 and count(app, "camshot_originals") == 3 and count(app, "jobs") == 3
    # A retry of a stored shot is answered from what is stored and spends nothing.
    assert api.post_camshot(image, client_shot_id="s0").status_code == 200
    # Another attempt has its own allowance.
    api.put_attempt(2, user_id=8)
    assert api.post_camshot(image, attempt_id=2, user_id=8).status_code == 201


@pytest.mark.engines
def test_forwarded_and_direct_camshots_spend_one_allowance(app, api, allowance_of_three):
    api.put_attempt(1)
    image = png_bytes(320, 240)
    assert api.post_camshot(image, client_shot_id="moodle-1").status_code == 201
    assert post_direct_camshot(api.client, image, "direct-1").status_code == 201
    assert api.post_camshot(image, client_shot_id="moodle-2").status_code == 201
    assert post_direct_camshot(api.client, image, "direct-2").status_code == 429
    assert api.post_camshot(image, client_shot_id="moodle-3").status_code == 429
    assert count(app, "camshots") == 3


@pytest.mark.engines
def test_forwarded_events_over_the_allowance_are_refused(app, api, allowance_of_three):
    api.put_attempt(1)
    answers = [api.json("POST", "/api/v1/events", {"attempt_id": 1, "user_id": 7, "type": "tab_hidden",
                                                   "at": int(time.time() * 1000) + n, "client_event_id": f"e{n}"})
               for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].headers["Retry-After"] == "30"
    assert count(app, "events") == 2


def test_the_plugin_checks_images_against_the_sidecar_s_default_bounds():
    """camshot_image.php refuses before forwarding what the sidecar would refuse; its bounds are these settings."""
    path = PLUGIN / "classes" / "camshot_image.php"
    script = (f"require {json.dumps(str(path))};"
              "echo json_encode((new ReflectionClass('quizaccess_proctorpy\\camshot_image'))->getConstants());")
    result = subprocess.run(["php", "-r", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == {"MAX_BYTES": DEFAULTS["storage.max_upload_bytes"],
                                         "MAX_SIDE": DEFAULTS["storage.max_image_side"],
                                         "MAX_ASPECT_RATIO": DEFAULTS["storage.max_aspect_ratio"]}


@pytest.mark.engines
def test_an_attempt_read_for_a_person_is_audited_as_a_report_view_and_a_lookup_is_not(app, api):
    api.put_attempt(1)
    api.post_camshot(png_bytes(), client_shot_id="seen")
    assert api.get("/api/v1/attempts/1?actor_id=5&actor_name=Grace+Hopper").status_code == 200
    assert count(app, "audit_log") == 0, "Moodle's own look-ups (which images to serve) are not views"
    assert api.get("/api/v1/attempts/1?view=report&actor_id=5&actor_name=Grace+Hopper").status_code == 200
    from sidecar.db import connect

    database = connect(app.config["DATABASE"])
    try:
        rows = database.execute("SELECT action, actor_id, actor_name, selection, count, detail FROM audit_log").fetchall()
    finally:
        database.close()
    assert [(r[0], r[1], r[2], json.loads(r[3])["attempt_id"], r[4], r[5]) for r in rows] == [
        ("report_view", "5", "Grace Hopper", 1, 1, "web service")]
    refused = api.get("/api/v1/attempts/1?view=everything")
    assert refused.status_code == 400 and refused.json["error"] == "invalid_field"
    assert count(app, "audit_log") == 1
