"""Gunicorn for the sidecar: its settings, declared once, and the application it runs.

`proctorpy serve` starts `python -m sidecar.server` as its web server. Every gunicorn
setting comes from gunicorn_settings(), which reads proctorpy's own configuration, so a
unit file or a shell never repeats gunicorn flags. On SIGHUP gunicorn reads the
configuration again and replaces its workers gracefully: new ones, then the old ones
finish their requests (within graceful_timeout) and exit.
"""
import os

from gunicorn.app.base import BaseApplication
from gunicorn.util import import_app

from . import storage
from .config import load_config

GRACEFUL_TIMEOUT = 20  # seconds an old worker may finish its uploads on reload or stop
KEEPALIVE = 5  # seconds; Moodle and the proxy reuse connections between camshots
WSGI_APP = "sidecar:create_app()"


def web_worker_count(config):
    """server.workers, where 0 means one per core this process may run on.

    Workers are gthread: their threads wait on fsync and SQLite, so one process per core
    with a few threads each keeps the cores busy without oversubscribing them.
    """
    return config["server.workers"] or len(os.sched_getaffinity(0))


def gunicorn_settings(config):
    """Gunicorn's settings by its own names, from a proctorpy Config."""
    return {
        "bind": [f"{config['server.host']}:{config['server.port']}"],
        "workers": web_worker_count(config),
        "worker_class": "gthread",
        "threads": config["server.threads"],
        "timeout": config["server.timeout"],
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": KEEPALIVE,
        # Gunicorn's most: the overview names the students a viewer may see in its query string.
        "limit_request_line": 8190,
        "pidfile": str(storage.pid_path(config.data_dir)),
        # One control socket per user would be shared by every sidecar on the host.
        "control_socket_disable": True,
        # The app writes one structured line per request, with its request id; gunicorn's
        # access line would repeat it with the query string.
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "proctorpy",
        "wsgi_app": WSGI_APP,
    }


def remove_stale_pidfile(config):
    """Remove the pid file a killed gunicorn left, unless its process still runs.

    Gunicorn refuses to start while the pid in its file is alive, and a killed master
    whose parent died too can linger as a zombie where nothing reaps it.
    """
    path = storage.pid_path(config.data_dir)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        path.unlink(missing_ok=True)
        return
    if not process_runs(pid):
        path.unlink(missing_ok=True)


def process_runs(pid):
    """Whether pid is a live process (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


class SidecarGunicorn(BaseApplication):
    """Gunicorn configured by gunicorn_settings(); each load re-reads the configuration."""

    def load_config(self):
        for name, value in gunicorn_settings(load_config()).items():
            self.cfg.set(name, value)

    def load(self):
        return import_app(self.cfg.wsgi_app)


def main():
    SidecarGunicorn(prog="proctorpy").run()


if __name__ == "__main__":
    main()
