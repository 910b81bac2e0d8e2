"""Ingest: what every route that receives a camshot or a browser event does once it has authorised
the caller. The signed, direct and identity routes differ only in how they authorise.

The order is written once, here, and matters: a retry (the same client_shot_id or client_event_id)
answers what was stored and spends nothing, so a client may resend after any failure; a new
upload's time is checked against the attempt (the browser chose it), the upload is admitted, then
spends one of the attempt's upload allowance and is stored: an upload is refused before any work
when the allowance is empty (a camshot before it is decoded), then spent for in one transaction
with its rows, so that one write, not two, waits for the database's writer lock, and an upload
that is not stored costs nothing.
"""
import contextlib
import time

from . import allowances, attempts, camshots
from .db import IntegrityError
from .errors import NotFound


def camshot(db, config, images, attempt, fields, data, admit=None):
    """Store an uploaded camshot of an authorised attempt once; (the camshot, whether this upload stored it).

    admit(db, attempt), when given, may refuse a new camshot before it spends the allowance (the
    identity step refuses one outside its time); a retry is answered whatever it would say now.
    """
    stored = camshots.find_by_client_id(db, attempt["id"], fields["client_shot_id"])
    if stored:
        return stored, False
    attempts.capture_time(attempt, fields["taken_at"], "taken_at", time.time())
    if admit is not None:
        admit(db, attempt)
    allowances.refuse_if_empty(db, config, attempt["id"], "camshots", time.time())
    with kept_attempt(db, attempt["id"]):
        pay = allowances.payment(config, attempt["id"], "camshots")
        return camshots.store(db, config, images, attempt, fields, data, pay), True


def event(db, config, attempt, event):
    """Record a browser event of an authorised attempt once; (the event, whether it is new)."""
    with kept_attempt(db, event["attempt_id"]):
        if not attempts.event_was_recorded(db, event["attempt_id"], event["client_event_id"]):
            attempts.capture_time(attempt, event["at"], "at", time.time())
            allowances.refuse_if_empty(db, config, event["attempt_id"], "events", time.time())
        return attempts.record_event(db, config, **event, pay=allowances.payment(config, event["attempt_id"], "events"))


@contextlib.contextmanager
def kept_attempt(db, attempt_id):
    """An upload whose attempt a purge deleted while it was being stored is told so (404), not a broken key (500).

    Uploads take no database-wide lock, so a purge may commit between the attempt's check and the upload's rows;
    their foreign key then refuses them and nothing of the upload is kept.
    """
    try:
        yield
    except IntegrityError:
        if db.execute("SELECT 1 FROM attempts WHERE id = ?", [attempt_id]).fetchone() is None:
            raise NotFound(f"Attempt {attempt_id} was deleted while this upload arrived; nothing was stored.",
                           code="attempt_deleted") from None
        raise
