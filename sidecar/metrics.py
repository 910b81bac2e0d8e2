"""Prometheus metrics at GET /metrics.

Counted where they happen: camshots received and refused (by reason), ingest latency, HTTP
answers, analysis time. Under `proctorpy serve` the gunicorn workers and the analysis
workers are separate processes; serve gives them one folder (PROMETHEUS_MULTIPROC_DIR) and
a scrape adds up their files. Read at scrape time from the database and the disk, so right
whichever worker answers: queue depth and age, purges and exports (from the audit log),
free space.

/metrics answers signed requests, and unsigned ones from loopback that no proxy forwarded.
No label carries a person's id: the figures are about the sidecar, not about students.
"""
import ipaddress
import os
import shutil
import tempfile
import time
from pathlib import Path

from flask import Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from .auth import require_signed_request
from .db import connect, database_location
from .requestlog import error_code, request_seconds

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Endpoints that ingest camshots, and the label each one's figures carry.
CAMSHOT_ENDPOINTS = {"capture_api.post_camshot": "moodle", "direct_upload.post_camshot": "direct"}
# Seconds; a camshot is acknowledged after two fsyncs, typically in tens of milliseconds.
INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ANALYSIS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
AUDITED_ACTIONS = {"purge": "purges", "export": "exports"}


def multiprocess_dir(environ):
    """The folder all processes of this sidecar count in; (path, whether it was made here).

    An admin may set PROMETHEUS_MULTIPROC_DIR (a systemd RuntimeDirectory, emptied at each
    start); otherwise a fresh temporary folder is made and set for the children to inherit.
    """
    if environ.get(MULTIPROC_VARIABLE):
        path = Path(environ[MULTIPROC_VARIABLE])
        path.mkdir(parents=True, exist_ok=True)
        return path, False
    path = tempfile.mkdtemp(prefix="proctorpy-metrics-")
    environ[MULTIPROC_VARIABLE] = path
    return Path(path), True


def multiprocess():
    return bool(os.environ.get(MULTIPROC_VARIABLE))


class RequestMetrics:
    """The counters one app keeps: in its own registry, or in the shared folder under gunicorn."""

    def __init__(self):
        self.registry = None if multiprocess() else CollectorRegistry()
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


def analysis_histogram():
    """Seconds per analysed camshot, kept by an analysis worker process."""
    return Histogram("proctorpy_analysis_seconds", "Time to analyse one camshot", buckets=ANALYSIS_BUCKETS,
                     registry=None)


class StoredFigures:
    """Figures read from the database and the disk at each scrape."""

    def __init__(self, config):
        self.config = config

    def collect(self):
        data_dir = self.config.data_dir
        db = connect(database_location(self.config))
        try:
            jobs = dict(db.execute(
                "SELECT state, count(*) FROM jobs WHERE state IN ('queued', 'running') GROUP BY state"
            ).fetchall())
            oldest = db.execute("SELECT min(created_at) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]
            audited = {row[0]: row[1:] for row in db.execute(
                "SELECT action, count(*), COALESCE(sum(count), 0), COALESCE(sum(bytes), 0) FROM audit_log "
                "WHERE action IN ('purge', 'export') GROUP BY action"
            )}
        finally:
            db.close()
        depth = GaugeMetricFamily("proctorpy_analysis_queue_depth", "Camshots waiting for analysis", labels=["state"])
        for state in ("queued", "running"):
            depth.add_metric([state], jobs.get(state, 0))
        yield depth
        yield GaugeMetricFamily("proctorpy_analysis_queue_oldest_age_seconds",
                                "Age of the oldest camshot waiting for analysis",
                                value=round(time.time() - oldest, 3) if oldest else 0)
        for action, name in AUDITED_ACTIONS.items():
            runs, camshots, size = audited.get(action, (0, 0, 0))
            yield CounterMetricFamily(f"proctorpy_{name}", f"{action.capitalize()} runs in the audit log", value=runs)
            yield CounterMetricFamily(f"proctorpy_{name}_camshots", f"Camshots reached by {name}", value=camshots)
            yield CounterMetricFamily(f"proctorpy_{name}_bytes", f"Image bytes reached by {name}", value=size)
        usage = shutil.disk_usage(data_dir)
        yield GaugeMetricFamily("proctorpy_disk_free_bytes", "Free space on the data dir's disk", value=usage.free)
        yield GaugeMetricFamily("proctorpy_disk_min_free_bytes", "Free space under which camshots are refused",
                                value=self.config["storage.min_free_bytes"])


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
    if multiprocess():
        MultiProcessCollector(scrape)
    else:
        scrape.register(current_app.extensions["proctorpy_metrics"].registry)
    scrape.register(StoredFigures(current_app.config["PROCTORPY"]))
    return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)


def record_response(response):
    current_app.extensions["proctorpy_metrics"].record(response)
    return response


def init_app(app):
    app.extensions["proctorpy_metrics"] = RequestMetrics()
    app.after_request(record_response)
    app.add_url_rule("/metrics", "metrics", metrics_view)
