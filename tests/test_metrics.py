"""Prometheus metrics, request ids and the request log."""
import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import SECRET, png_bytes
from sidecar.client import SidecarError
from sidecar.signing import signed_headers

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


def samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0)


@pytest.mark.engines
def test_camshots_received_and_refused_by_reason(client, api):
    api.put_attempt(1)
    assert api.post_camshot(png_bytes(), client_shot_id="a").status_code == 201
    assert api.post_camshot(png_bytes(), client_shot_id="a").status_code == 200  # a retry, not a new camshot
    assert api.post_camshot(b"not an image", client_shot_id="b").status_code == 415
    assert client.post("/api/v1/camshots").status_code == 401

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    assert value(found, "proctorpy_camshots_received_total", source="moodle") == 1
    assert value(found, "proctorpy_camshots_refused_total", source="moodle", reason="not_an_image") == 1
    assert value(found, "proctorpy_camshots_refused_total", source="moodle", reason="unsigned") == 1
    assert value(found, "proctorpy_ingest_seconds_count", source="moodle") == 4
    assert value(found, "proctorpy_http_responses_total", endpoint="capture_api.post_camshot", status="201") == 1
    assert value(found, "proctorpy_analysis_queue_depth", state="queued") == 1
    assert value(found, "proctorpy_analysis_queue_oldest_age_seconds") >= 0
    assert value(found, "proctorpy_disk_free_bytes") > 0
    assert value(found, "proctorpy_purges_total") == 0


@pytest.mark.engines
def test_metrics_count_purges_and_exports_from_the_audit_log(client, api):
    api.put_attempt(1)
    api.post_camshot(png_bytes(), client_shot_id="a")
    assert api.json("POST", "/api/v1/exports", {"attempt_id": 1}).status_code == 200
    purge = api.json("POST", "/api/v1/purge", {"attempt_id": 1, "dry_run": False})
    assert purge.status_code == 200, purge.json
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert value(found, "proctorpy_exports_total") == 1
    assert value(found, "proctorpy_purges_total") == 1
    assert value(found, "proctorpy_purges_camshots_total") == 1
    assert value(found, "proctorpy_purges_bytes_total") > 0


@pytest.mark.parametrize("environ, headers", [
    (REMOTE, {}),
    ({}, {"X-Forwarded-For": "203.0.113.9"}),
    ({}, {"X-Real-IP": "203.0.113.9"}),
    ({}, {"Forwarded": "for=203.0.113.9"}),
])
def test_metrics_refuse_unsigned_remote_or_proxied_callers(client, environ, headers):
    response = client.get("/metrics", environ_base=environ, headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "unsigned"


def test_metrics_answer_a_signed_remote_caller(client):
    response = client.get("/metrics", environ_base=REMOTE, headers=signed_headers(SECRET, "GET", "/metrics"))
    assert response.status_code == 200
    assert b"proctorpy_disk_free_bytes" in response.data


@pytest.mark.parametrize("given, echoed", [("moodle-req.42", True), ("", False), ("bad id with spaces", False),
                                           ("x" * 65, False)])
def test_request_id_is_echoed_when_plain_else_made(client, given, echoed):
    response = client.get("/healthz", headers={"X-Request-Id": given} if given else {})
    request_id = response.headers["X-Request-Id"]
    if echoed:
        assert request_id == given
    else:
        assert request_id != given and len(request_id) == 16 and int(request_id, 16) >= 0


@pytest.mark.engines
def test_live_metrics_add_up_across_gunicorn_workers_and_logs_hold_no_secrets(live_sidecar):
    client = live_sidecar.client
    client.put_attempt(1, user_id=7, user_fullname="Ada", course_id=3, quiz_id=11, cm_id=42, started_at=1_700_000_000)
    image = png_bytes(64, 48, (200, 10, 10))
    for n in range(12):
        client.post_camshot(1, 7, 1_700_000_000_000 + n, image, f"shot-{n}")
    with pytest.raises(SidecarError) as refused:
        client.post_camshot(1, 7, 1_700_000_000_000, b"\x89PNG\r\n\x1a\nbroken", "broken")
    assert refused.value.status == 415
    reason = refused.value.body["error"]

    request = urllib.request.Request(live_sidecar.url + "/healthz", headers={"X-Request-Id": "trace-me-0001"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Request-Id"] == "trace-me-0001"
    # Scrape several times: each answer must add up every worker's counts, whoever answers.
    for _ in range(4):
        with urllib.request.urlopen(live_sidecar.url + "/metrics", timeout=10) as response:
            found = samples(response.read().decode())
        assert value(found, "proctorpy_camshots_received_total", source="moodle") == 12
        assert value(found, "proctorpy_camshots_refused_total", source="moodle", reason=reason) == 1
        assert value(found, "proctorpy_ingest_seconds_count", source="moodle") == 13
        assert value(found, "proctorpy_analysis_queue_depth", state="queued") == 12

    live_sidecar.stop()
    log = live_sidecar.log.read_bytes()
    lines = [json.loads(line) for line in log.decode(errors="replace").splitlines() if line.startswith("{")]
    camshot_lines = [line for line in lines if line["endpoint"] == "capture_api.post_camshot"]
    assert len(camshot_lines) == 13 and {line["status"] for line in camshot_lines} == {201, 415}
    assert any(line["request_id"] == "trace-me-0001" and line["path"] == "/healthz" for line in lines)
    assert SECRET.encode() not in log
    assert b"X-Proctorpy-Signature" not in log and b"IHDR" not in log and b"\x89PNG" not in log
