"""Generated inputs: signatures, multipart bodies, images, purge selections, and the whole API.

`make test` runs a small sample; `make fuzz` runs the same properties with PROCTORPY_FUZZ_SCALE
times more inputs and prints a FUZZ line per property: inputs tried and answers of 5xx. A 5xx, an exception other than the domain's refusal, or a file without its row fails.
"""
import io
import json
import os
import re
import time
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import SECRET, SignedTestClient, attempt_fields, convert_originals, png_bytes, png_declaring, stored_keys
from sidecar.client import multipart
from sidecar.config import DEFAULTS
from sidecar.db import connect
from sidecar.errors import PayloadTooLarge, ProctorpyError, Unprocessable, UnsupportedImage
from sidecar.images import decode_upload
from sidecar.retention.selection import SELECTION_KEYS, describe, plan, read_selection, where
from sidecar.signing import SignatureError, check_signature, make_token, sign, signed_headers


def fuzz_settings(sample):
    """Hypothesis settings for sample inputs, times PROCTORPY_FUZZ_SCALE in a full run."""
    scale = int(os.environ.get("PROCTORPY_FUZZ_SCALE", "1"))
    return settings(max_examples=sample * scale, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def report(name, inputs, server_errors):
    # Read by `make fuzz` (run with -s) for bench/RESULTS.md.
    print(f"\nFUZZ {name}: inputs={inputs} 5xx={server_errors}")


MAX_SKEW = 300
NOW = 1_800_000_000
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
PATHS = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=120).map(lambda p: "/" + p)
NONCES = st.binary(min_size=16, max_size=64).map(bytes.hex)
HEADER_NAMES = ("X-Proctorpy-Timestamp", "X-Proctorpy-Nonce", "X-Proctorpy-Signature")


def test_a_signed_request_verifies_and_any_change_is_refused():
    tried = []

    @fuzz_settings(100)
    @given(method=METHODS, path=PATHS, body=st.binary(max_size=4096), nonce=NONCES,
           skew=st.integers(-MAX_SKEW, MAX_SKEW), change=st.sampled_from(
               ["none", "method", "path", "body", "timestamp", "nonce", "signature", "secret"]))
    def check(method, path, body, nonce, skew, change):
        tried.append(1)
        timestamp = NOW + skew
        headers = {"X-Proctorpy-Timestamp": str(timestamp), "X-Proctorpy-Nonce": nonce,
                   "X-Proctorpy-Signature": sign(SECRET, method, path, timestamp, nonce, body)}
        if change == "none":
            assert check_signature(SECRET, method, path, headers, body, NOW, MAX_SKEW) == nonce
            return
        secret = SECRET
        if change == "method":
            method = "GET" if method != "GET" else "POST"
        elif change == "path":
            path += "x"
        elif change == "body":
            body += b"\0"
        elif change == "timestamp":
            headers["X-Proctorpy-Timestamp"] = str(timestamp - 1 if skew > 0 else timestamp + 1)
        elif change == "nonce":
            headers["X-Proctorpy-Nonce"] = ("0" if nonce[0] != "0" else "1") + nonce[1:]
        elif change == "signature":
            signature = headers["X-Proctorpy-Signature"]
            headers["X-Proctorpy-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
        else:
            secret = SECRET + "x"
        with pytest.raises(SignatureError) as refused:
            check_signature(secret, method, path, headers, body, NOW, MAX_SKEW)
        assert refused.value.code == "bad_signature" and refused.value.message

    check()
    report("signature verification (valid and mutated)", len(tried), 0)


def test_arbitrary_signature_headers_are_refused_with_a_reason():
    tried = []

    @fuzz_settings(100)
    @given(headers=st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(max_size=200)),
           body=st.binary(max_size=256), path=PATHS)
    def check(headers, body, path):
        tried.append(1)
        with pytest.raises(SignatureError) as refused:
            check_signature(SECRET, "POST", path, headers, body, NOW, MAX_SKEW)
        assert refused.value.code in ("unsigned", "bad_timestamp", "bad_nonce", "clock_skew", "bad_signature")

    check()
    report("signature headers (arbitrary)", len(tried), 0)


def image_bytes(fmt, width, height):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (width % 256, height % 256, 90)).save(out, format=fmt)
    return out.getvalue()


@st.composite
def uploads(draw):
    """Image bytes: valid, valid then damaged, declared huge, declared or drawn as a tall or wide strip, or noise."""
    kind = draw(st.sampled_from(["valid", "damaged", "huge", "strip", "noise"]))
    if kind == "noise":
        return draw(st.binary(max_size=2048))
    if kind == "huge":
        return png_declaring(draw(st.integers(1, 2**31 - 1)), draw(st.integers(1, 2**31 - 1)))
    if kind == "strip":  # within the pixel count, past a side or the aspect ratio: 640x26000 and the like
        declared = draw(st.booleans())  # or drawn, narrow enough to be cheap to make
        short = draw(st.integers(1, 640 if declared else 64))
        long = draw(st.integers(short * 4 + 1, 26000 if declared else 5000))
        width, height = draw(st.sampled_from([(short, long), (long, short)]))
        return png_declaring(width, height) if declared else image_bytes("PNG", width, height)
    data = bytearray(image_bytes(draw(st.sampled_from(["PNG", "JPEG"])), draw(st.integers(1, 96)),
                                 draw(st.integers(1, 96))))
    if kind == "damaged":
        for _ in range(draw(st.integers(1, 8))):
            action = draw(st.sampled_from(["flip", "cut", "insert"]))
            at = draw(st.integers(0, max(0, len(data) - 1)))
            if action == "flip" and data:
                data[at] ^= draw(st.integers(1, 255))
            elif action == "cut":
                del data[at:]
            else:
                data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def test_image_decoding_returns_rgb_or_refuses_clearly():
    tried = []

    @fuzz_settings(150)
    @given(data=uploads())
    def check(data):
        tried.append(1)
        try:
            image = decode_upload(data, DEFAULTS)
        except (UnsupportedImage, PayloadTooLarge, Unprocessable) as refusal:
            assert refusal.message and refusal.status in (413, 415, 422)
        else:
            assert image.mode == "RGB" and image.width * image.height <= DEFAULTS["storage.max_pixels"]
            assert max(image.size) <= DEFAULTS["storage.max_image_side"]
            assert max(image.size) / min(image.size) <= DEFAULTS["storage.max_aspect_ratio"]

    check()
    report("image decoding", len(tried), 0)


FIELD_VALUES = st.one_of(st.integers(-2**70, 2**70).map(str), st.text(max_size=80), st.just(""), st.just("1"),
                         st.just("7"), st.sampled_from(["attempt", "identity", "other"]))


@st.composite
def camshot_bodies(draw):
    """(body, content type) of a camshot upload: a real multipart body with odd parts, or raw bytes."""
    if draw(st.integers(0, 5)) == 0:
        boundary = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
        content_type = draw(st.sampled_from([f"multipart/form-data; boundary={boundary}", "multipart/form-data",
                                             "application/json", "image/png", ""]))
        return draw(st.binary(max_size=2048)), content_type
    fields = {"attempt_id": "1", "user_id": "7", "taken_at": str(int(time.time() * 1000)),
              "client_shot_id": draw(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                                             max_size=20)),
              "kind": "attempt"}
    for name in draw(st.sets(st.sampled_from(sorted(fields)))):
        fields[name] = draw(FIELD_VALUES)
    for name in draw(st.sets(st.sampled_from(sorted(fields)))):
        del fields[name]
    files = {}
    if draw(st.booleans()) or not fields:
        files[draw(st.sampled_from(["image", "image", "photo", ""]))] = (
            draw(st.sampled_from(["shot.png", "x.jpg", "../../etc/passwd", "a\"b.png"])), draw(uploads()),
            draw(st.sampled_from(["image/png", "image/jpeg", "application/octet-stream", "text/plain"])))
    return multipart(fields, files)


@pytest.mark.engines
def test_multipart_camshot_uploads_answer_2xx_or_a_clear_4xx_and_store_nothing_half(app):
    app.config["PROCTORPY"]["capture.max_shots_per_minute"] = 10**9  # every input reaches the image's checks
    api = SignedTestClient(app.test_client())
    api.put_attempt(1)
    answers = {}

    @fuzz_settings(60)
    @given(upload=camshot_bodies())
    def check(upload):
        body, content_type = upload
        response = api.open("POST", "/api/v1/camshots", body, content_type)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.data[:300]
        if response.status_code >= 400:
            assert set(response.json) == {"error", "message"} and response.json["message"]

    check()
    stored_rows(app)
    report("multipart camshot uploads", sum(answers.values()), sum(n for s, n in answers.items() if s >= 500))


def stored_rows(app):
    """Every camshot row has its image and every image its row, once the originals kept as received are
    converted, as the analysis worker converts them (each one accepted can be); no temporary file is left."""
    convert_originals(app.config["DATABASE"], app.config["IMAGES"])
    db = connect(app.config["DATABASE"])
    try:
        paths = {row[0] for row in db.execute("SELECT path FROM camshots")}
    finally:
        db.close()
    stored = set(stored_keys(app.config["IMAGES"]))
    assert stored == paths
    assert not list((app.config["DATA_DIR"] / "images").rglob("*.tmp"))


# What a header can carry on the wire: bytes, which the app reads as Latin-1 text.
WIRE_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)


@st.composite
def malformed_headers(draw):
    """(method, path, headers, form) of a request whose one credential is cut, extended or replaced by wire text."""
    target = draw(st.sampled_from(["signed", "direct", "sso", "csrf", "cookie"]))
    value = draw(WIRE_TEXT)

    def garble(good):
        how = draw(st.sampled_from(["replace", "append", "cut"]))
        return value if how == "replace" else good + value if how == "append" else good[:len(value)] + value

    if target == "signed":
        headers = signed_headers(SECRET, "GET", "/api/v1/ping")
        name = draw(st.sampled_from(HEADER_NAMES))
        headers[name] = garble(headers[name])
        return "GET", "/api/v1/ping", headers, None
    token = make_token(SECRET, {"a": 1, "u": 7, "exp": int(time.time()) + 600})
    if target == "direct":
        headers = {"Authorization": "Bearer " + token}
        name = draw(st.sampled_from(["Authorization", "Origin", "Host", "Sec-Fetch-Site"]))
        headers[name] = garble(headers.get(name, "http://moodle.example.edu"))
        return "POST", draw(st.sampled_from(["/api/v1/direct/events", "/api/v1/direct/camshots"])), headers, None
    if target == "sso":
        return "GET", "/console/sso?token=" + quote(garble(token)), {}, None
    if target == "csrf":
        return "POST", "/console/logout", {}, {"csrf_token": garble("a-token")}
    return "POST", "/console/logout", {"Cookie": "proctorpy_console=" + garble("eyJhZG1pbiI6")}, None


def test_malformed_credentials_in_headers_are_refused_without_5xx(app):
    answers = {}

    @fuzz_settings(100)
    @given(request=malformed_headers())
    def check(request):
        method, path, headers, form = request
        client = app.test_client()
        if form is not None:  # a signed-in admin's session, whose form token the garbled one is checked against
            with client.session_transaction() as session:
                session.update(admin={"id": "local:fuzz", "name": "Fuzz"}, csrf="a-token", seen=time.time())
        response = client.open(path, method=method, headers={"Accept": "application/json", **headers},
                               data=form if form is not None else b"{}",
                               content_type=None if form is not None else "application/json")
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert response.status_code < 500, (request, response.data[:300])
        if response.status_code >= 400:
            assert set(response.json) == {"error", "message"} and response.json["message"]

    check()
    report("non-ASCII and malformed credentials in headers, cookies and forms", sum(answers.values()),
           sum(n for status, n in answers.items() if status >= 500))


def test_console_sign_in_answers_every_form_without_5xx(app):
    """Each try hashes a password unless it is throttled: addresses vary, so most are not."""
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True))[1]
    answers = {}

    @fuzz_settings(15)
    @given(name=st.text(max_size=80), password=st.text(max_size=200), address=WIRE_TEXT | st.ip_addresses().map(str))
    def check(name, password, address):
        response = client.post("/console/login", data={"csrf_token": token, "name": name, "password": password},
                               environ_base={"REMOTE_ADDR": address})
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert response.status_code in (401, 429), response.data[:300]

    check()
    report("console sign-in forms", sum(answers.values()), sum(n for status, n in answers.items() if status >= 500))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)


@pytest.mark.engines
def test_purge_selections_parse_into_bounded_sql_or_refuse(app):
    db = connect(app.config["DATABASE"])
    tried = []

    @fuzz_settings(150)
    @given(body=st.dictionaries(st.sampled_from([*SELECTION_KEYS, "dry_run", "course", "all", ""]),
                                JSON_VALUES | st.integers(0, 2**63 - 1) | st.integers(0, 2**63 - 1).map(str),
                                max_size=6))
    def check(body):
        tried.append(1)
        try:
            selection = read_selection(body, allowed=("dry_run",))
        except ProctorpyError as refusal:
            assert refusal.status == 400 and refusal.message
            return
        assert selection and set(selection) <= set(SELECTION_KEYS)
        condition, params = where(selection, NOW, 90)
        # One clause per key, joined by AND; the expired clause has ANDs of its own.
        own = sum(where({key: value}, NOW, 90)[0].count(" AND ") for key, value in selection.items())
        assert condition.count(" AND ") == own + len(selection) - 1
        figures = plan(db, selection, NOW, 90)
        assert figures["attempts"] == figures["camshots"] == 0
        assert describe(selection)

    try:
        check()
    finally:
        db.close()
    report("purge selection parsing", len(tried), 0)


def signed_or_token(prepared, sidecar_url):
    """Sign each generated request as Moodle would; direct-upload ones carry an upload token instead."""
    path = prepared.path_url
    if path.startswith("/api/v1/direct/"):
        token = make_token(SECRET, {"a": 1, "u": 7, "exp": int(time.time()) + 3600})
        prepared.headers["Authorization"] = f"Bearer {token}"
        for name in HEADER_NAMES:
            prepared.headers.pop(name, None)
        return prepared
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    prepared.headers.update(signed_headers(SECRET, prepared.method, path, body))
    return prepared


@pytest.mark.engines
def test_the_api_answers_generated_requests_without_5xx(live_sidecar):
    """Schemathesis generates requests from the OpenAPI document; each one is signed and sent."""
    client = live_sidecar.client
    document = client.request("GET", "/api/v1/openapi.json")[1]
    document = json.loads(document) if isinstance(document, bytes) else document
    schema = schemathesis.openapi.from_dict(document)
    client.put_attempt(1, **attempt_fields(1))
    client.post_camshot(1, 7, int(time.time() * 1000), png_bytes(64, 48), "seed")
    session = requests.Session()
    answers, server_errors = {}, []
    transport_keys = ("method", "url", "headers", "params", "json", "data", "files", "cookies")

    for result in schema.get_all_operations():
        operation = result.ok()

        @fuzz_settings(4)
        @given(case=operation.as_strategy())
        def call(case):
            kwargs = case.as_transport_kwargs(base_url=live_sidecar.url)
            prepared = requests.Request(**{k: kwargs[k] for k in transport_keys if k in kwargs}).prepare()
            response = session.send(signed_or_token(prepared, live_sidecar.url), timeout=60)
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                server_errors.append((prepared.method, prepared.path_url[:120], response.status_code,
                                      response.text[:300]))
            elif response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error", "message"} and body["message"], (prepared.path_url, body)

        call()
    report("live API from the OpenAPI document (schemathesis, signed)", sum(answers.values()), len(server_errors))
    assert server_errors == []
    assert sum(n for status, n in answers.items() if status < 300) > 0, answers
