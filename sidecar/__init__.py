"""proctorpy sidecar: stores camshots, analyses faces, scores attempts, renders reports."""
import shutil
import time
from importlib.metadata import PackageNotFoundError, version

from flask import Flask, current_app, jsonify

from . import capture_api, console, db, direct_upload, errors, metrics, requestlog, storage
from .analysis import api as analysis_api
from .config import Config, load_config
from .console import session as console_session  # noqa: F401  (the sign-in routes join the console's blueprint)
from .console import views as console_views
from .reports import api as reports_api
from .retention import api as retention_api
from .retention.settings import retention_settings
from .secret import load_secret


def package_version():
    try:
        return version("proctorpy")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(config=None):
    """The Flask app. config: a Config, a dict of dotted overrides, or None for file + environment."""
    if not isinstance(config, Config):
        config = load_config(overrides=config)
    app = Flask(__name__)
    data_dir = config.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    secret, _ = load_secret(config)
    app.config.update(
        PROCTORPY=config,
        RETENTION=retention_settings(config),
        DATA_DIR=data_dir,
        IMAGES=storage.image_store(config),  # camshots and reference photos: the data dir's folder or a bucket
        DATABASE=db.database_location(config),  # the SQLite file, or the PostgreSQL URL
        SECRET=secret,
        VERSION=package_version(),
        MAX_CONTENT_LENGTH=config["storage.max_upload_bytes"],
        JSON_SORT_KEYS=False,
        **console.session_settings(config, secret),
    )
    database = db.connect(app.config["DATABASE"])
    try:
        db.migrate(database)
    finally:
        database.close()

    db.init_app(app)
    errors.init_app(app)
    requestlog.init_app(app)
    metrics.init_app(app)
    app.add_url_rule("/healthz", view_func=healthz)

    app.register_blueprint(capture_api.bp)
    app.register_blueprint(direct_upload.bp)
    app.register_blueprint(analysis_api.bp)
    app.register_blueprint(retention_api.bp)
    app.register_blueprint(console_views.bp)
    app.register_blueprint(reports_api.bp)
    return app


def healthz():
    """Unsigned liveness and load figures: no personal data."""
    config = current_app.config["PROCTORPY"]
    database = db.get_db()
    queued, oldest = database.execute(
        "SELECT count(*), min(created_at) FROM jobs WHERE state IN ('queued', 'running')"
    ).fetchone()
    free = shutil.disk_usage(current_app.config["DATA_DIR"]).free
    # In a bucket, images do not fill this disk: its floor refuses camshots only with the folder store.
    disk_ok = free >= config["storage.min_free_bytes"] or not current_app.config["IMAGES"].local
    return jsonify(
        status="ok" if disk_ok else "disk_low",
        version=current_app.config["VERSION"],
        api="v1",
        images=current_app.config["IMAGES"].name,
        queue={"depth": queued, "oldest_age_seconds": round(time.time() - oldest, 1) if oldest else 0},
        disk={"free_bytes": free, "min_free_bytes": config["storage.min_free_bytes"], "accepting_camshots": disk_ok},
    )
