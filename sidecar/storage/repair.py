"""Putting the image store and the database back in step after a crash.

A camshot or reference photo is stored first and its row committed second, and the image is
deleted again when the commit fails; a crash between the two leaves an image no row names.
A row whose image is gone (lost from the disk or the bucket) is marked unreadable, so the
report says so; a camshot still kept as received (camshot_originals) has no image until the
analysis worker writes its PNG, and is not missing. A PNG the worker wrote while its camshot
was being purged is an image no row names, removed like any other.

Where it runs, and why:
- folder store: at every `proctorpy serve` start, before gunicorn takes uploads, as always:
  walking one machine's folder is cheap, and no upload can be in flight, so no grace is needed.
- s3 store: in the daily retention job (one lease holder among all nodes) and in
  `proctorpy repair`, never at a web node's start: listing a bucket of millions of objects costs
  minutes and money per start, and other nodes upload meanwhile, so an object is an orphan
  only once it is older than ORPHAN_GRACE_SECONDS and still no row names it.
"""
import heapq
import logging
import time

from .layout import IMAGES, REFERENCES

log = logging.getLogger(__name__)

ORPHAN_GRACE_SECONDS = 3600  # far longer than any upload takes between its put and its row's commit
CHECK_BATCH = 500  # orphan candidates checked against the rows per query
ROWS_PAGE = 5000  # paths read per query: memory stays bounded whatever the number of rows
NAMED_BY = ("camshots", "reference_photos")  # the tables whose rows name images, by their path


def repair(db, images, grace_seconds=0, now=None):
    """Remove what interrupted writes and unnamed images left; mark rows whose image is gone.

    The stored images and the rows' paths are read side by side, both in the order of their keys, a page at a
    time: a million of each take no more memory than a few thousand.

    grace_seconds: images newer than this are left alone (an upload on another node may be
    about to commit its row). Returns counts of what was done.
    """
    now = time.time() if now is None else now
    tops = (IMAGES, REFERENCES)
    counts = {"temp_removed": images.sweep_temporary(tops, now - grace_seconds), "orphan_files_removed": 0,
              "missing_files": 0}
    rows = named_paths(db)
    row = next(rows, None)
    candidates, missing = [], []
    for key, modified in images.scan(tops):
        while row is not None and row < key:
            missing.append(row)
            row = next(rows, None)
        if row == key:
            row = next(rows, None)
        elif modified <= now - grace_seconds:
            candidates.append(key)
        if len(candidates) >= CHECK_BATCH:
            counts["orphan_files_removed"] += remove_orphans(db, images, candidates)
            candidates = []
        if len(missing) >= CHECK_BATCH:
            counts["missing_files"] += mark_missing(db, images, missing)
            missing = []
    counts["orphan_files_removed"] += remove_orphans(db, images, candidates)
    while row is not None:
        missing.append(row)
        row = next(rows, None)
        if len(missing) >= CHECK_BATCH:
            counts["missing_files"] += mark_missing(db, images, missing)
            missing = []
    counts["missing_files"] += mark_missing(db, images, missing)
    return counts


def named_paths(db):
    """Every path a row names, once, in the order of its characters (as Python sorts str), read a page at a
    time from each table."""
    previous = None
    for path in heapq.merge(*(table_paths(db, table) for table in NAMED_BY)):
        if path != previous:  # a frozen reference may share its image with the profile photo's row
            yield path
        previous = path


def table_paths(db, table):
    ordered = db.byte_order("path")
    after = ""
    while True:
        page = [row[0] for row in db.execute(
            f"SELECT path FROM {table} WHERE {ordered} > ? ORDER BY {ordered} LIMIT ?", [after, ROWS_PAGE])]
        yield from page
        if len(page) < ROWS_PAGE:
            return
        after = page[-1]


def mark_missing(db, images, paths):
    """Mark the camshots whose image is gone unreadable, looking for each image again first: an upload may have
    stored it, and committed its row, since the listing went past its key. Returns how many are gone."""
    gone = [path for path in paths if not images.exists(path)]
    if gone:
        # A camshot kept as received has no PNG until the analysis worker writes it: it is not missing.
        marks = ", ".join("?" * len(gone))
        held = {row[0] for row in db.execute(
            f"SELECT c.path FROM camshots c JOIN camshot_originals o ON o.camshot_id = c.id WHERE c.path IN ({marks})",
            gone)}
        gone = [path for path in gone if path not in held]
    for path in gone:
        log.warning("repair: the file %s of a stored row is missing; marking it unreadable", path)
    if gone:
        marks = ", ".join("?" * len(gone))
        db.execute(f"UPDATE camshots SET status = 'unreadable', error = 'image file missing' "
                   f"WHERE path IN ({marks}) AND status != 'unreadable'", gone)
    return len(gone)


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
