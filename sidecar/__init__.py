"""proctorpy sidecar: stores camshots, analyses faces, scores attempts, renders reports.

This module is the app factory: it builds the Flask app from a Config and registers the routes,
all of which live in views/ and console/.
"""
from importlib.metadata import PackageNotFoundError, version

from flask import Flask

from . import console, db, installation, proxies, storage
from .config import Config, load_config
from .errors import ImageStoreUnavailable
from .console import session as console_session  # noqa: F401  (the sign-in routes join the console's blueprint)
from .console import views as console_views
from .reports.render import templates
from .retention.settings import retention_settings
from .secret import load_secret
from .views import capture, connections, direct, errors, identity, metrics, reports, requestlog, retention
from .views.multipart import UploadRequest


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
    app.request_class = UploadRequest
    data_dir = config.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    secret, _ = load_secret(config)
    app.config.update(
        PROCTORPY=config,
        RETENTION=retention_settings(config),
        DATA_DIR=data_dir,
        IMAGES=storage.image_store(config),  # camshots and reference photos: the data dir's folder or a bucket
        DATABASE=db.database_location(config),  # the SQLite file, or the PostgreSQL URL
        REPORT_TEMPLATES=templates(),  # compiled once per process, for every report rendered
        SECRET=secret,
        TRUSTED_PROXIES=proxies.trusted_networks(config["server.trusted_proxies"]),
        VERSION=package_version(),
        MAX_CONTENT_LENGTH=config["storage.max_upload_bytes"],
        JSON_SORT_KEYS=False,
        **console.session_settings(config, secret),
    )
    database = db.connect(app.config["DATABASE"])
    try:
        db.migrate(database)
        with db.write_transaction(database):
            own_id = installation.installation_id(database)
    finally:
        database.close()
    try:
        # Refuses to start on a bucket prefix another installation writes to.
        installation.claim_store(app.config["IMAGES"], own_id)
    except ImageStoreUnavailable as error:
        # A store that is down is answered with 503 per request; the claim is made at the next start.
        app.logger.warning("the image store's installation marker could not be checked: %s", error)

    connections.init_app(app)
    errors.init_app(app)
    requestlog.init_app(app)
    metrics.init_app(app)
    for module in (capture, direct, identity, retention, console_views, reports):
        app.register_blueprint(module.bp)
    return app
