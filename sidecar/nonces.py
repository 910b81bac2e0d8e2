"""Nonces: the one-time values of signed requests and sign-in links, remembered for as long as a
replay of them could otherwise pass."""
import random

from .db import IntegrityError, without_fsync
from .errors import Unauthorized

SWEEP_CHANCE = 0.01  # prune expired nonces on about one request in a hundred


def remember(db, nonce, now):
    """Record a nonce as used; IntegrityError when it was used before (a replay)."""
    db.execute("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", [nonce.lower(), now])


def remember_request_nonce(db, nonce, now, max_skew):
    """Refuse a signed request's nonce seen within the skew window; older ones are pruned."""
    try:
        with without_fsync(db):  # a nonce only has to outlive the skew window
            remember(db, nonce, now)
    except IntegrityError:
        raise Unauthorized(
            "This nonce was already used: the request is a replay. Send a fresh nonce with every request.",
            code="replayed_nonce",
        ) from None
    if random.random() < SWEEP_CHANCE:
        # A nonce older than twice the skew can only come with a timestamp that is refused anyway.
        prune(db, now - 2 * max_skew)


def prune(db, cutoff):
    """Forget the nonces seen before cutoff; how many were forgotten."""
    return db.execute("DELETE FROM nonces WHERE seen_at < ?", [cutoff]).rowcount
