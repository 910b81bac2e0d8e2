"""Configuration: embedded defaults, then a TOML file, then PROCTORPY_<SECTION>_<KEY>.

Every setting is declared once in SETTINGS; config.example.toml documents each of them and a
test keeps the two in step. Nothing here runs at import time.
"""
import ipaddress
import os
import tomllib
from collections import namedtuple
from pathlib import Path
from urllib.parse import urlsplit

from .proxies import ProxySettingError, trusted_networks
from .redaction import user_part

Setting = namedtuple("Setting", "name default help")

# Dotted names "<section>.<key>"; the default's type is the setting's type.
SETTINGS = [
    Setting("server.host", "127.0.0.1", "Address gunicorn binds; keep loopback unless a proxy needs more"),
    Setting("server.port", 8765, "Port gunicorn binds"),
    Setting("server.workers", 0, "Gunicorn worker processes; 0 means one per core"),
    Setting("server.threads", 4, "Threads per gunicorn worker; uploads wait on fsync, so a few help"),
    Setting("server.timeout", 30, "Seconds before gunicorn restarts a stuck worker"),
    Setting("server.public_url", "", "URL browsers use to reach the console; empty means http://host:port"),
    Setting("server.trusted_proxies", "127.0.0.1/8, ::1", "Comma-separated addresses or networks of the reverse proxies in front of the sidecar (loopback: the shipped nginx snippets); only their X-Forwarded-For is read for the client's address"),
    Setting("security.secret", "", "Shared secret with Moodle; empty means the one `proctorpy init` stored in the data dir (PROCTORPY_SECRET wins over both)"),
    Setting("security.max_skew", 300, "Seconds a signed request's timestamp may differ from the sidecar's clock"),
    Setting("database.url", "", "PostgreSQL URL of the metadata (postgresql://user:password@host:5432/proctorpy), shared by several sidecars and workers; empty means the SQLite file proctorpy.db in the data dir"),
    Setting("storage.data_dir", "instance", "Folder holding the database, the images (with the folder backend) and the stored secret"),
    Setting("storage.backend", "folder", "Where camshots and reference photos are kept: folder (images/ and references/ in the data dir) or s3 (the bucket of [storage.s3], shared by every node)"),
    Setting("storage.max_upload_bytes", 4 * 1024 * 1024, "Largest request body accepted, in bytes"),
    Setting("storage.max_pixels", 4096 * 4096, "Largest image accepted, in pixels (width x height); guards against decompression bombs"),
    Setting("storage.max_image_side", 4096, "Longest side of an image accepted, in pixels; read from the image's header before any pixel is decoded"),
    Setting("storage.max_aspect_ratio", 4.0, "Largest ratio of an image's longer side to its shorter one (a camera's frame is 4:3 or 16:9)"),
    Setting("storage.max_width", 640, "Camshots wider than this are scaled down before they are stored"),
    Setting("storage.png_compress_level", 3, "Zlib level for stored PNGs, 0-9: 3 takes half the time of 6 for about 6% more bytes"),
    Setting("storage.format", "palette", "Stored camshot pixels: palette (PNG-8, about a third of the bytes) or rgb (full-colour PNG)"),
    Setting("storage.palette_colors", 128, "Colours per camshot in palette storage, 2-256; bench/storage.py measures bytes and face distances for each"),
    Setting("storage.thumb_width", 160, "Width of thumbnails served with ?size=thumb"),
    Setting("storage.min_free_bytes", 1024 * 1024 * 1024, "Camshots are refused with 507 when the data dir's disk has less free space than this"),
    Setting("storage.fsync", True, "Fsync each camshot and its folder before acknowledging it; turn off only on throwaway test data"),
    Setting("storage.s3.endpoint", "", "URL of the S3-compatible object store (https://s3.example.edu); empty means AWS's own endpoint for the region"),
    Setting("storage.s3.bucket", "", "Bucket holding the images; required with backend = \"s3\", created beforehand by the store's admin"),
    Setting("storage.s3.region", "us-east-1", "Region the bucket is in, as the store names it"),
    Setting("storage.s3.access_key", "", "Access key of the sidecar's account at the store; empty means boto3's usual sources (environment, instance role)"),
    Setting("storage.s3.secret_key", "", "Secret key of that account; keep the config file private, or set PROCTORPY_STORAGE_S3_SECRET_KEY"),
    Setting("storage.s3.prefix", "", "Folder-like prefix of every object key (proctorpy/), so the bucket can hold other data"),
    Setting("storage.s3.timeout", 10, "Seconds to wait for the store to connect or answer before a request is refused with 503"),
    Setting("capture.max_shots_per_minute", 30, "Camshots one attempt may post per minute, forwarded by Moodle and by direct upload together; more are refused with 429 and Retry-After, and retried by the browser"),
    Setting("capture.max_events_per_minute", 120, "Browser events one attempt may post per minute, forwarded by Moodle and by direct upload together"),
    Setting("analysis.workers", 0, "Analysis worker processes; 0 means one per core"),
    Setting("analysis.with_server", True, "Whether `proctorpy serve` also runs the analysis workers; turn off when `proctorpy worker` runs them"),
    Setting("analysis.model", "hog", "Face detector: hog (fast, CPU) or cnn (more accurate, slow without a GPU)"),
    Setting("analysis.upsample", 1, "Times the detector upsamples the frame to find small faces"),
    Setting("analysis.width", 320, "Frames are analysed at most this wide; boxes are given in the stored image's pixels"),
    Setting("analysis.match_threshold", 0.6, "Largest face distance that still counts as the same person"),
    Setting("analysis.lease_seconds", 60, "A claimed job whose worker has not finished it by then is retried"),
    Setting("analysis.max_tries", 3, "Tries before a camshot is marked unreadable"),
    Setting("analysis.poll_seconds", 0.5, "How often an idle worker looks for new jobs"),
    Setting("identity.recent_change_days", 14, "A profile photo that became the student's picture this many days or fewer before an attempt, in place of an earlier one, is a problem of the attempt that flags it"),
    Setting("identity.challenges", "closer,left,right", "Challenges the identity step draws from at random, comma-separated: closer (move closer to the camera), left, right (turn the head to that side)"),
    Setting("identity.challenge_seconds", 60, "Seconds an identity challenge may be answered after it is issued; it is used once"),
    Setting("identity.max_refusals", 3, "Refused identity checks of an attempt after which the student waits for the teacher, who can let the attempt go on"),
    Setting("scoring.threshold", 60.0, "Attempts whose credibility score is below this are flagged, when the quiz's settings give no threshold (the plugin's default is the same)"),
    Setting("scoring.min_duration", 60, "Attempts shorter than this many seconds get no score"),
    Setting("scoring.default_interval_max", 90, "Longest capture interval in seconds assumed when an attempt's settings do not say"),
    Setting("scoring.camera_grace", 30, "Seconds past the longest capture interval before a missing camshot counts as camera off"),
    Setting("scoring.weight_no_face", 1.0, "Weight of the share of time with no face"),
    Setting("scoring.weight_multiple_faces", 1.5, "Weight of the share of time with several faces"),
    Setting("scoring.weight_mismatch", 2.0, "Weight of the share of time with a face that is not the student's"),
    Setting("scoring.weight_substitution", 3.0, "Weight of the share of time with another student of the quiz on camera"),
    Setting("scoring.weight_camera_off", 1.0, "Weight of the share of time with no camshot when one was due"),
    Setting("scoring.weight_focus_lost", 0.5, "Weight of the share of time the quiz page was hidden or out of focus"),
    Setting("reports.timezone", "UTC", "IANA time zone of the times in reports when the caller does not pass ?tz="),
    Setting("reports.image_base", "images/", "URL prefix of report images when the caller passes no ?image_base= (the report appends <camshot id>, and ?size=thumb for thumbnails)"),
    Setting("retention.default_days", 90, "Days after an attempt finished before its images and data are purged"),
    Setting("retention.run_at", "03:30", "Local time of day (HH:MM) of the daily purge"),
    Setting("retention.batch_size", 500, "Camshots deleted per purge batch; keeps each write lock short"),
    Setting("retention.audit_days", 730, "Days the audit log is kept"),
    Setting("retention.pause_ratio", 1.0, "After each purge batch the purge rests this many times as long as the batch took, leaving disk and CPU to uploads; 0 purges flat out"),
    Setting("console.session_idle_minutes", 30, "Console sessions end after this many idle minutes"),
    Setting("console.session_hours", 12, "Console sessions end this many hours after sign-in, however busy"),
    Setting("console.moodle_origin", "", "Origin of the Moodle site (https://moodle.example.edu), allowed to frame the console"),
    Setting("console.sign_in_failures_per_account", 5, "Wrong passwords for one local admin name from one client address before that name's sign-in from that address is refused (429) for console.sign_in_lockout_seconds; other addresses are still heard"),
    Setting("console.sign_in_failures_per_address", 20, "Wrong passwords from one client address, whatever the names, before its sign-ins are refused (429) for console.sign_in_lockout_seconds; the address is the client's own behind server.trusted_proxies"),
    Setting("console.sign_in_lockout_seconds", 300, "Seconds sign-in stays refused past a limit; wrong passwords older than this are forgotten"),
]

DEFAULTS = {s.name: s.default for s in SETTINGS}


class ConfigError(Exception):
    "The configuration has a bad value or an unknown key"


class Config(dict):
    """Settings by dotted name; asking for an undeclared one is a programming error."""

    def __getitem__(self, name):
        if name not in DEFAULTS:
            raise KeyError(f"undeclared setting {name!r}")
        return super().__getitem__(name)

    @property
    def data_dir(self):
        return Path(self["storage.data_dir"]).resolve()


def _coerce(name, value, origin):
    """Convert a value to the declared type, or say which key is wrong and why."""
    kind = type(DEFAULTS[name])
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif kind is int and not isinstance(value, bool):
        try:
            return int(value)
        except (TypeError, ValueError):
            pass
    elif kind is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    elif kind is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{origin}: {name} must be {kind.__name__}, got {value!r}")


# Settings that took a new name: a file or variable with the old one is refused with the new name, so an
# upgrade never drops an admin's value in silence.
RENAMED = {
    "direct.max_shots_per_minute": "capture.max_shots_per_minute",
    "direct.max_events_per_minute": "capture.max_events_per_minute",
}


def _unknown(name, where):
    """The error for a setting no longer or never known, naming its new name if it was renamed."""
    renamed = f": it is now {RENAMED[name]}" if name in RENAMED else ""
    return ConfigError(f"{where}unknown setting {name}{renamed}")


def load_config(path=None, environ=None, overrides=None):
    """Defaults, then the TOML file (path, or PROCTORPY_CONFIG), then the environment, then overrides."""
    environ = os.environ if environ is None else environ
    values = dict(DEFAULTS)
    path = path or environ.get("PROCTORPY_CONFIG")
    if path:
        try:
            with open(path, "rb") as f:
                document = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
        for section, table in document.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: {section} must be a [section] table")
            for name, value in _flatten(section, table):
                if name not in DEFAULTS:
                    raise _unknown(name, f"{path}: ")
                values[name] = _coerce(name, value, path)
    for name in list(DEFAULTS) + list(RENAMED):
        variable = "PROCTORPY_" + name.replace(".", "_").upper()
        if variable in environ:
            if name in RENAMED:
                raise _unknown(name, f"{variable}: ")
            values[name] = _coerce(name, environ[variable], variable)
    for name, value in (overrides or {}).items():
        if name not in DEFAULTS:
            raise _unknown(name, "")
        values[name] = _coerce(name, value, "override")
    _check_ranges(values)
    return Config(values)


def _flatten(prefix, table):
    """(dotted name, value) of a TOML table's keys; a sub-table ([storage.s3]) adds its name to theirs."""
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict) and any(setting.startswith(name + ".") for setting in DEFAULTS):
            yield from _flatten(name, value)
        else:
            yield name, value


def _check_ranges(values):
    positive = ["server.port", "server.threads", "server.timeout", "security.max_skew",
                "storage.max_upload_bytes", "storage.max_pixels", "storage.max_width",
                "storage.thumb_width", "analysis.width", "analysis.lease_seconds",
                "analysis.max_tries", "retention.default_days", "retention.batch_size",
                "retention.audit_days", "console.session_idle_minutes", "console.session_hours",
                "capture.max_shots_per_minute", "capture.max_events_per_minute", "storage.max_image_side",
                "console.sign_in_failures_per_account", "console.sign_in_failures_per_address",
                "console.sign_in_lockout_seconds", "storage.s3.timeout", "identity.challenge_seconds",
                "identity.max_refusals"]
    for name in positive:
        if values[name] <= 0:
            raise ConfigError(f"{name} must be greater than 0, got {values[name]!r}")
    if values["storage.max_aspect_ratio"] < 1:
        raise ConfigError("storage.max_aspect_ratio must be at least 1 (a square image)")
    if values["identity.recent_change_days"] < 0:
        raise ConfigError("identity.recent_change_days must not be negative (0: no change counts as recent)")
    if values["retention.pause_ratio"] < 0:
        raise ConfigError("retention.pause_ratio must not be negative")
    if not 0 <= values["storage.png_compress_level"] <= 9:
        raise ConfigError("storage.png_compress_level must be between 0 and 9")
    if values["storage.format"] not in ("palette", "rgb"):
        raise ConfigError("storage.format must be palette or rgb")
    if not 2 <= values["storage.palette_colors"] <= 256:
        raise ConfigError("storage.palette_colors must be between 2 and 256")
    if values["storage.backend"] not in ("folder", "s3"):
        raise ConfigError('storage.backend must be "folder" or "s3"')
    if values["storage.backend"] == "s3" and not values["storage.s3.bucket"]:
        raise ConfigError('storage.backend is "s3" but storage.s3.bucket is empty: name the bucket that holds the '
                          "images ([storage.s3] bucket, or PROCTORPY_STORAGE_S3_BUCKET)")
    if values["storage.s3.endpoint"] and not values["storage.s3.endpoint"].startswith(("http://", "https://")):
        raise ConfigError("storage.s3.endpoint must be an http:// or https:// URL, or empty for AWS")
    if values["analysis.model"] not in ("hog", "cnn"):
        raise ConfigError("analysis.model must be hog or cnn")
    challenges = [name.strip() for name in values["identity.challenges"].split(",") if name.strip()]
    if not challenges or any(name not in ("closer", "left", "right") for name in challenges):
        raise ConfigError("identity.challenges must name one or more of closer, left, right, separated by commas")
    if values["database.url"] and not values["database.url"].startswith(("postgresql://", "postgres://")):
        raise ConfigError("database.url must be a postgresql:// URL, or empty for the SQLite file in the data dir")
    if any(character in user_part(values["database.url"]) for character in "/?#@"):
        # PostgreSQL would read the password's first / as the end of the host, and say so with a piece of it.
        raise ConfigError("database.url: the user name or password holds / ? # or @, which a URL must "
                          "percent-encode (%2F %3F %23 %40); or give the password as ?password=...")
    try:
        trusted_networks(values["server.trusted_proxies"])
    except ProxySettingError as error:
        raise ConfigError(str(error)) from None
    hour, _, minute = values["retention.run_at"].partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError("retention.run_at must be a time of day as HH:MM")


def is_loopback_host(host):
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_exposure(config):
    """Sentences naming each address off this host where the sidecar is reached over plain HTTP:
    camshots, names, reports and sign-on links would cross the network unencrypted."""
    found = []
    public = config["server.public_url"]
    if public:
        parts = urlsplit(public)
        if parts.scheme.lower() == "http" and not is_loopback_host(parts.hostname):
            found.append(f"server.public_url {public} is plain HTTP on another host: serve the console over HTTPS "
                         "(deploy/nginx-console.conf)")
    if not is_loopback_host(config["server.host"]):
        found.append(f"server.host {config['server.host']} listens beyond this host over plain HTTP (gunicorn has no "
                     "TLS): keep 127.0.0.1 with Moodle on this host, or put a proxy with TLS on the way")
    return found


def example_toml():
    """The text of config.example.toml, generated from SETTINGS so the two cannot drift."""
    lines = ["# proctorpy sidecar configuration. Every key, with its default.",
             "# Environment variables PROCTORPY_<SECTION>_<KEY> override this file;",
             "# PROCTORPY_SECRET, when set, is the shared secret.", ""]
    section = None
    for setting in SETTINGS:
        current, key = setting.name.rsplit(".", 1)
        if current != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{current}]")
            section = current
        lines.append(f"# {setting.help}")
        lines.append(f"{key} = {_toml_value(setting.default)}")
    return "\n".join(lines) + "\n"


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
