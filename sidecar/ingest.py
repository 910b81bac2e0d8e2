"""Ingest: what every route that receives a camshot or a browser event does once it has authorised
the caller. The signed, direct and identity routes differ only in how they authorise.

The order is written once, here, and matters: a retry (the same client_shot_id or client_event_id)
answers what was stored and spends nothing, so a client may resend after any failure; a new
upload is admitted, then spends one of the attempt's upload allowance, then is stored.
"""
import time

from . import allowances, attempts, camshots


def camshot(db, config, images, attempt, fields, data, admit=None):
    """Store an uploaded camshot of an authorised attempt once; (the camshot, whether this upload stored it).

    admit(db, attempt), when given, may refuse a new camshot before it spends the allowance (the
    identity step refuses one outside its time); a retry is answered whatever it would say now.
    """
    stored = camshots.find_by_client_id(db, attempt["id"], fields["client_shot_id"])
    if stored:
        return stored, False
    if admit is not None:
        admit(db, attempt)
    allowances.spend(db, config, attempt["id"], "camshots", time.time())
    return camshots.store(db, config, images, attempt, fields, data), True


def event(db, config, event):
    """Record a browser event of an authorised attempt once; (the event, whether it is new)."""
    if not attempts.event_was_recorded(db, event["attempt_id"], event["client_event_id"]):
        allowances.spend(db, config, event["attempt_id"], "events", time.time())
    return attempts.record_event(db, config, **event)
