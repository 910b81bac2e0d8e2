"""How far a ZIP export started from the console has got, counted in bytes sent against the images' bytes.

The export page names a random key before the download starts; the download records its progress
under it and the page reads it back, so the admin sees the run move while the browser receives it.
Only the admin who started an export reads its progress.
"""
import re
import secrets
import time

from ..db import connect, write_transaction
from ..errors import BadRequest

KEY = re.compile(r"[0-9a-f]{32}")
WRITE_EVERY_BYTES = 1_000_000  # a row update per megabyte sent keeps the database out of the way of the ZIP
KEPT_SECONDS = 86400  # a row is of use only while its page is open; older ones go when the next export begins


def new_key():
    return secrets.token_hex(16)


def checked_key(text):
    """A key as the export page named it; anything else is the sender's invention."""
    if not isinstance(text, str) or not KEY.fullmatch(text):
        raise BadRequest("run must be the export page's key: 32 hexadecimal digits.", code="invalid_field")
    return text


def begin(db, key, actor_id, totals, now):
    """Record an export of the figures totals (attempts, camshots, bytes); the same key again starts over."""
    with write_transaction(db):
        db.execute("DELETE FROM export_runs WHERE key = ? OR updated_at < ?", [key, now - KEPT_SECONDS])
        db.execute("INSERT INTO export_runs (key, actor_id, attempts, camshots, bytes, started_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [key, actor_id, totals["attempts"], totals["camshots"], totals["bytes"], now, now])


def sent(db, key, size, done=False):
    with write_transaction(db):
        db.execute("UPDATE export_runs SET sent = ?, updated_at = ?, state = ? WHERE key = ?",
                   [size, time.time(), "done" if done else "running", key])


def tracked(chunks, database, key):
    """Yield the ZIP's chunks, writing down the bytes sent as they go, through a connection of the
    download's own (database: its location), as the ZIP is read on after the request's connection closes."""
    db = connect(database)
    try:
        size = written = 0
        for chunk in chunks:
            yield chunk
            size += len(chunk)
            if size - written >= WRITE_EVERY_BYTES:
                sent(db, key, size)
                written = size
        sent(db, key, size, done=True)
    finally:
        db.close()


def progress_of(db, key, actor_id):
    """The export's progress, or None when this admin started no export under that key."""
    row = db.execute("SELECT attempts, camshots, bytes, sent, state, updated_at FROM export_runs "
                     "WHERE key = ? AND actor_id = ?", [key, actor_id]).fetchone()
    if row is None:
        return None
    return dict(zip(("attempts", "camshots", "bytes", "sent", "state", "updated_at"), row))

