"""Putting the image store and the database back in step after a crash.

A camshot or reference photo is stored first and its row committed second, and the image is
deleted again when the commit fails; a crash between the two leaves an image no row names.
A row whose image is gone (lost from the disk or the bucket) is marked unreadable, so the
report says so.

Where it runs, and why:
- folder store: at every `proctorpy serve` start, before gunicorn takes uploads, as always:
  walking one machine's folder is cheap, and no upload can be in flight, so no grace is needed.
- s3 store: in the daily retention job (one lease holder among all nodes) and in
  `proctorpy repair`, never at a web node's start: listing a bucket of millions of objects costs
  minutes and money per start, and other nodes upload meanwhile, so an object is an orphan
  only once it is older than ORPHAN_GRACE_SECONDS and still no row names it.
"""
import logging
import time

from .layout import IMAGES, REFERENCES

log = logging.getLogger(__name__)

ORPHAN_GRACE_SECONDS = 3600  # far longer than any upload takes between its put and its row's commit
CHECK_BATCH = 500  # orphan candidates checked against the rows per query


def repair(db, images, grace_seconds=0, now=None):
    """Remove what interrupted writes and unnamed images left; mark rows whose image is gone.

    grace_seconds: images newer than this are left alone (an upload on another node may be
    about to commit its row). Returns counts of what was done.
    """
    now = time.time() if now is None else now
    tops = (IMAGES, REFERENCES)
    counts = {"temp_removed": images.sweep_temporary(tops, now - grace_seconds), "orphan_files_removed": 0,
              "missing_files": 0}
    known = {row[0] for row in db.execute("SELECT path FROM camshots")}
    known.update(row[0] for row in db.execute("SELECT path FROM reference_photos"))
    found, candidates = set(), []
    for key, modified in images.scan(tops):
        if key in known:
            found.add(key)
        elif modified <= now - grace_seconds:
            candidates.append(key)
        if len(candidates) >= CHECK_BATCH:
            counts["orphan_files_removed"] += remove_orphans(db, images, candidates)
            candidates = []
    counts["orphan_files_removed"] += remove_orphans(db, images, candidates)
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


def remove_orphans(db, images, keys):
    """Delete the images no row names, asking the rows again first: one may have been committed
    since the rows were read."""
    if not keys:
        return 0
    marks = ", ".join("?" * len(keys))
    named = {row[0] for row in db.execute(f"SELECT path FROM camshots WHERE path IN ({marks})", keys)}
    named.update(row[0] for row in db.execute(f"SELECT path FROM reference_photos WHERE path IN ({marks})", keys))
    orphans = [key for key in keys if key not in named]
    for key in orphans:
        log.warning("repair: removing %s, which no camshot or reference photo row names", key)
    images.delete_many(orphans)
    return len(orphans)
