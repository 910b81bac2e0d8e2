"""The data directory: its layout, durable writes, paths the sidecar chooses, and crash repair.

Layout: the database proctorpy.db (with its WAL files), the shared secret in secret, gunicorn's
pid file, images/<course>/<quiz>/<attempt>/<camshot id>.png and references/<user>/<id>.png.
Every path is built from integers and ids the sidecar generated, never from client text.
"""
import contextlib
import logging
import os
import re
import secrets
import shutil
from pathlib import Path

from .errors import InsufficientStorage

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
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


def write_durably(data_dir, relative, data, fsync=True):
    """Write to a temporary name, fsync, rename into place, fsync the folder.

    After this returns the file survives a crash; before it, only a temp file can be
    left behind, which repair() removes.
    """
    target = Path(data_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name("." + target.name + "." + secrets.token_hex(4) + TEMP_SUFFIX)
    try:
        with open(temp, "xb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        # A full or read-only disk: leave no half-written file behind for repair() to find.
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    if fsync:
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def remove_quietly(data_dir, relative):
    """Delete a stored file; a file already gone is not an error. Return the bytes freed."""
    path = Path(data_dir) / relative
    try:
        size = path.stat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


def check_free_space(data_dir, min_free_bytes):
    """Refuse new data rather than fill the disk."""
    free = shutil.disk_usage(data_dir).free
    if free < min_free_bytes:
        raise InsufficientStorage(
            f"The sidecar's disk has {free // (1024 * 1024)} MiB free, under the configured floor of "
            f"{min_free_bytes // (1024 * 1024)} MiB; new camshots are refused until space is freed "
            "(purge old data or raise the disk's size)."
        )
    return free


def repair(db, data_dir):
    """Put the folder and the database back in step after a crash.

    Temp files are removed; a stored file with no row was never acknowledged and is
    removed; a row whose file is missing is marked unreadable so the report says so.
    Returns counts of what was done.
    """
    data_dir = Path(data_dir)
    known = {row[0] for row in db.execute("SELECT path FROM camshots")}
    known.update(row[0] for row in db.execute("SELECT path FROM reference_photos"))
    found = set()
    counts = {"temp_removed": 0, "orphan_files_removed": 0, "missing_files": 0}
    for top in (IMAGES, REFERENCES):
        for folder, _, files in os.walk(data_dir / top):
            for name in files:
                path = Path(folder) / name
                relative = path.relative_to(data_dir).as_posix()
                if name.endswith(TEMP_SUFFIX):
                    path.unlink()
                    counts["temp_removed"] += 1
                elif relative in known:
                    found.add(relative)
                else:
                    log.warning("repair: removing %s, which no camshot or reference photo row names", relative)
                    path.unlink()
                    counts["orphan_files_removed"] += 1
    missing = [p for p in known if p not in found]
    for relative in missing:
        log.warning("repair: the file %s of a stored row is missing; marking it unreadable", relative)
        db.execute(
            "UPDATE camshots SET status = 'unreadable', error = 'image file missing' "
            "WHERE path = ? AND status != 'unreadable'",
            [relative],
        )
    counts["missing_files"] = len(missing)
    return counts
