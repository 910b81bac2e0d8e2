"""The sidecar's figures for Prometheus and /healthz, read where they are kept.

Counted by the processes that see them happen: analysis time by the analysis workers
(analysis/worker.py); HTTP answers, camshots received and refused, ingest latency by the web
workers (views/metrics.py). Under `proctorpy serve` they are separate processes; serve gives them one folder
(PROMETHEUS_MULTIPROC_DIR) and a scrape adds up their files. Read at scrape time from the
database and the disk, so right whichever worker answers: queue depth and age, purges and
exports (from the audit log), free space.

No figure carries a person's id: they are about the sidecar, not about students.
"""
import os
import shutil
import tempfile
import time
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .analysis import queue
from .db import connect, database_location

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
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


def health(db, config, images):
    """Liveness and load without personal data: the analysis backlog and the data dir's free space."""
    backlog = queue.backlog(db)
    oldest = backlog["oldest_created_at"]
    free = shutil.disk_usage(config.data_dir).free
    # In a bucket, images do not fill this disk: its floor refuses camshots only with the folder store.
    disk_ok = free >= config["storage.min_free_bytes"] or not images.local
    return {
        "status": "ok" if disk_ok else "disk_low",
        "images": images.name,
        "queue": {"depth": backlog["queued"] + backlog["running"],
                  "oldest_age_seconds": round(time.time() - oldest, 1) if oldest else 0},
        "disk": {"free_bytes": free, "min_free_bytes": config["storage.min_free_bytes"], "accepting_camshots": disk_ok},
    }


class StoredFigures:
    """Figures read from the database and the disk at each scrape."""

    def __init__(self, config):
        self.config = config

    def collect(self):
        data_dir = self.config.data_dir
        db = connect(database_location(self.config))
        try:
            backlog = queue.backlog(db)
            audited = {row[0]: row[1:] for row in db.execute(
                "SELECT action, count(*), COALESCE(sum(count), 0), COALESCE(sum(bytes), 0) FROM audit_log "
                "WHERE action IN ('purge', 'export') GROUP BY action"
            )}
        finally:
            db.close()
        depth = GaugeMetricFamily("proctorpy_analysis_queue_depth", "Camshots waiting for analysis", labels=["state"])
        for state in ("queued", "running"):
            depth.add_metric([state], backlog[state])
        yield depth
        oldest = backlog["oldest_created_at"]
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
