"""The data dir's layout, and the ids and keys the sidecar chooses (see the package's docstring)."""
import re
import secrets
from pathlib import Path

ID_PATTERN = re.compile(r"^[0-9a-f]{20}$")
DATABASE_FILE = "proctorpy.db"
SECRET_FILE = "secret"
PID_FILE = "gunicorn.pid"
IMAGES = "images"
REFERENCES = "references"


def database_path(data_dir):
    return Path(data_dir) / DATABASE_FILE


def database_files(data_dir):
    """The database file and the WAL and shared-memory files SQLite keeps beside it."""
    return [p for p in Path(data_dir).glob(DATABASE_FILE + "*") if p.is_file()]


def secret_path(data_dir):
    return Path(data_dir) / SECRET_FILE


def pid_path(data_dir):
    return Path(data_dir) / PID_FILE


def new_id():
    """An opaque id: 80 random bits as hex, safe in paths and URLs."""
    return secrets.token_hex(10)


def attempt_folder(course_id, quiz_id, attempt_id):
    return Path(IMAGES, str(int(course_id)), str(int(quiz_id)), str(int(attempt_id)))


def camshot_path(course_id, quiz_id, attempt_id, camshot_id):
    return attempt_folder(course_id, quiz_id, attempt_id) / (camshot_id + ".png")


def reference_folder(user_id):
    return Path(REFERENCES, str(int(user_id)))


def reference_path(user_id, photo_id):
    return reference_folder(user_id) / (photo_id + ".png")
