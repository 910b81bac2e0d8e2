"""GET /metrics (Prometheus) and GET /healthz, and the counters every answer adds to.

/metrics answers signed requests, and unsigned ones from loopback that no proxy forwarded;
/healthz answers anyone. No label carries a person's id.
"""
import ipaddress

from flask import Response, current_app, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from .. import metrics
from .auth import require_signed_request
from .connections import get_db
from .requestlog import error_code, request_seconds

# Endpoints that ingest camshots, and the label each one's figures carry.
CAMSHOT_ENDPOINTS = {"capture_api.post_camshot": "moodle", "direct_upload.post_camshot": "direct"}
# Seconds; a camshot is acknowledged after two fsyncs, typically in tens of milliseconds.
INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class RequestMetrics:
    """The counters one app keeps: in its own registry, or in the shared folder under gunicorn."""

    def __init__(self):
        self.registry = None if metrics.multiprocess() else CollectorRegistry()
        self.responses = Counter(
            "proctorpy_http_responses", "HTTP answers by endpoint and status", ["endpoint", "status"],
            registry=self.registry,
        )
        self.received = Counter(
            "proctorpy_camshots_received", "Camshots stored (a retry of a stored one is not counted)", ["source"],
            registry=self.registry,
        )
        self.refused = Counter(
            "proctorpy_camshots_refused", "Camshot uploads refused, by error code", ["source", "reason"],
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "proctorpy_ingest_seconds", "Time from request to answer of camshot uploads", ["source"],
            buckets=INGEST_BUCKETS, registry=self.registry,
        )

    def record(self, response):
        endpoint = request.endpoint or "unknown"
        self.responses.labels(endpoint, str(response.status_code)).inc()
        source = CAMSHOT_ENDPOINTS.get(endpoint)
        if source is None:
            return
        self.ingest_seconds.labels(source).observe(request_seconds())
        if response.status_code == 201:
            self.received.labels(source).inc()
        elif response.status_code >= 400:
            self.refused.labels(source, error_code(response) or str(response.status_code)).inc()


def is_local_unforwarded():
    """A scraper on this host talking to the sidecar directly, not through a proxy."""
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    return local and not any(header in request.headers for header in PROXY_HEADERS)


def metrics_view():
    if not is_local_unforwarded():
        require_signed_request()
    scrape = CollectorRegistry()
    if metrics.multiprocess():
        MultiProcessCollector(scrape)
    else:
        scrape.register(current_app.extensions["proctorpy_metrics"].registry)
    scrape.register(metrics.StoredFigures(current_app.config["PROCTORPY"]))
    return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)


def healthz():
    """Unsigned liveness and load figures: no personal data."""
    figures = metrics.health(get_db(), current_app.config["PROCTORPY"], current_app.config["IMAGES"])
    return jsonify(status=figures.pop("status"), version=current_app.config["VERSION"], api="v1", **figures)


def record_response(response):
    current_app.extensions["proctorpy_metrics"].record(response)
    return response


def init_app(app):
    app.extensions["proctorpy_metrics"] = RequestMetrics()
    app.after_request(record_response)
    app.add_url_rule("/metrics", "metrics", metrics_view)
    app.add_url_rule("/healthz", "healthz", healthz)
