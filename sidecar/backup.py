"""Backup and restore of a data dir, consistent between the database and the image folder.

A backup takes the database first, through SQLite's online backup API in one step: one
read transaction, so the copy is a snapshot, and in WAL mode uploads go on meanwhile.
Then it copies exactly the files the snapshot's rows name, checking each camshot against
the SHA-256 its row holds. A camshot acknowledged before the backup began has its row in
the snapshot and its file on disk (the file is durable before the row is committed), so
it is in the backup. Files that arrive later are not copied; files purged since the
snapshot are reported and, after a restore, marked unreadable by the startup repair.

The database lands in the backup folder last, under its final name: a folder without
proctorpy.db is an unfinished backup.
"""
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

from . import db, storage
from .storage.folder import FolderStore

MANIFEST = "backup.json"
FORMAT = 1  # the layout of a backup folder, in its manifest
CHUNK = 1024 * 1024


class BackupError(Exception):
    "A backup or restore cannot be made as asked"


def _empty_folder(path, what):
    """Create path, or accept it when it exists and is empty; refuse anything else."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise BackupError(f"{path} exists and is not a folder; {what} needs an empty folder.")
        if any(path.iterdir()):
            raise BackupError(f"{path} is not empty; {what} goes into an empty or new folder only, "
                              "so nothing there is overwritten.")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _copy(source, target, expected_sha256=None):
    """Copy one file durably; return (bytes, whether its content matches expected_sha256)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as reader, open(target, "xb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return size, expected_sha256 is None or digest.hexdigest() == expected_sha256


def _named_files(database):
    """(relative path, sha256 or None) of every file the database's rows name. A camshot kept as received has
    no file yet: its original is in the database, and so in the backup."""
    return [
        *database.execute("SELECT path, sha256 FROM camshots WHERE id NOT IN (SELECT camshot_id FROM "
                          "camshot_originals) ORDER BY path").fetchall(),
        *database.execute("SELECT path, NULL FROM reference_photos ORDER BY path").fetchall(),
    ]


def _copy_named_files(database, source_dir, target_dir, progress=None):
    counts = {"files": 0, "bytes": 0, "missing": [], "mismatched": []}
    named = _named_files(database)
    for done, (relative, sha256) in enumerate(named, 1):
        source = Path(source_dir) / relative
        if not source.exists():
            counts["missing"].append(relative)  # purged since the snapshot, or lost before it
        else:
            size, matches = _copy(source, Path(target_dir) / relative, sha256)
            counts["files"] += 1
            counts["bytes"] += size
            if not matches:
                counts["mismatched"].append(relative)
        if progress:
            progress(done, len(named))
    return counts


def _copy_secret(source_dir, target_dir):
    """The shared secret travels with the data, readable by its owner only."""
    source, target = storage.secret_path(source_dir), storage.secret_path(target_dir)
    if source.exists():
        _copy(source, target)
        os.chmod(target, 0o600)


def _fsync_tree(root):
    for folder, _, _ in os.walk(root):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _snapshot(source_path, target_path):
    """SQLite's online backup of source into a new file, in one step (one consistent read)."""
    source = sqlite3.connect(str(source_path), timeout=db.BUSY_TIMEOUT_MS / 1000)
    target = sqlite3.connect(str(target_path))
    try:
        source.backup(target, pages=-1)
        # A single file: no WAL beside it, so the snapshot is one self-contained file.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
        source.close()


def backup(data_dir, dest, version="0.0.0", progress=None):
    """Back up data_dir into dest (new or empty); return the manifest written.

    progress: called with (files done, files named) as the images are copied.
    """
    data_dir = Path(data_dir)
    source_db = storage.database_path(data_dir)
    if not source_db.exists():
        raise BackupError(f"{source_db} does not exist: {data_dir} is not a sidecar data dir.")
    dest = _empty_folder(dest, "a backup")
    started = time.time()
    partial = dest / (storage.DATABASE_FILE + ".partial")
    _snapshot(source_db, partial)
    snapshot = sqlite3.connect(str(partial))
    try:
        counts = _copy_named_files(snapshot, data_dir, dest, progress)
        camshots = snapshot.execute("SELECT count(*) FROM camshots").fetchone()[0]
    finally:
        snapshot.close()
    _copy_secret(data_dir, dest)
    manifest = {
        "format": FORMAT,
        "sidecar_version": version,
        "started_at": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(),
        "seconds": round(time.time() - started, 3),
        "camshots": camshots,
        "files": counts["files"],
        "bytes": counts["bytes"],
        "missing_files": counts["missing"],
        "mismatched_files": counts["mismatched"],
        "secret_included": storage.secret_path(dest).exists(),
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync_tree(dest)
    os.replace(partial, storage.database_path(dest))  # last: its presence marks a finished backup
    _fsync_tree(dest)
    return manifest


def restore(source, data_dir):
    """Restore a backup folder into data_dir (new or empty); return what was restored.

    Migrations of this version are applied to the restored database, and the startup
    repair runs, so the data dir is ready for `proctorpy serve`.
    """
    source = Path(source)
    source_db = storage.database_path(source)
    if not source_db.exists():
        raise BackupError(f"{source} holds no {storage.DATABASE_FILE}: it is not a backup, or an unfinished one.")
    data_dir = _empty_folder(data_dir, "a restore")
    try:
        _snapshot(source_db, storage.database_path(data_dir))
        database = db.connect(storage.database_path(data_dir))
        try:
            counts = _copy_named_files(database, source, data_dir)
            _copy_secret(source, data_dir)
            migrations = db.migrate(database)
            repaired = storage.repair(database, FolderStore(data_dir))
        finally:
            database.close()
        _fsync_tree(data_dir)
    except BaseException:
        # The folder was empty before: leave it so, and the backup is untouched.
        for entry in data_dir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        raise
    return {"files": counts["files"], "bytes": counts["bytes"], "missing_files": counts["missing"],
            "mismatched_files": counts["mismatched"], "migrations": migrations, "repair": repaired}
