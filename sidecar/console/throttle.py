"""The console sign-in throttle: wrong passwords counted per local admin name and client address
together, and per client address whatever the names.

The address is the client's own (behind server.trusted_proxies, read from X-Forwarded-For), so
one client's guesses never lock another out: a name guessed at from one address is still heard
from every other, made-up names lock nothing shared, and an address that guesses across many
names is throttled itself.

The counts live in the database, so every gunicorn worker sees the same ones. A sign-in is
counted before its password is hashed and the count is taken back when it succeeds, so guesses
sent in parallel are held to the limit as well as guesses sent one after another. Past a limit,
sign-in is refused with 429 and nothing is hashed until the lockout ends.
"""
import math
import random

from .. import audit
from ..db import without_fsync, write_transaction
from ..errors import TooManyRequests

SWEEP_CHANCE = 0.01  # forget stale counts on about one sign-in in a hundred


def guards(config, name, address):
    """(key, limit) of each count a sign-in spends from: its admin name's at its client address, and
    its client address's."""
    return [
        (f"account:{name}@{address}", config["console.sign_in_failures_per_account"]),
        (f"address:{address}", config["console.sign_in_failures_per_address"]),
    ]


def count_sign_in(db, guarded, now, lockout):
    """Count one sign-in against each guard, or refuse with 429 while one is locked out.

    Returns the guards this sign-in locked, for the caller to audit should it fail.
    """
    # Like a nonce, a count only has to outlive a process crash, not a power cut.
    with without_fsync(db), write_transaction(db):
        rows = {key: db.execute("SELECT failures, last_at, locked_until FROM sign_in_failures WHERE key = ?",
                                [key]).fetchone() for key, _ in guarded}
        locked_until = max((row[2] for row in rows.values() if row and row[2] and row[2] > now), default=None)
        if locked_until:
            wait = math.ceil(locked_until - now)
            raise TooManyRequests(f"Too many wrong passwords: sign-in is refused for {wait} s more.",
                                  retry_after=wait, code="sign_in_locked")
        locking = []
        for key, limit in guarded:
            row = rows[key]
            failures = 1 if row is None or now - row[1] > lockout else row[0] + 1
            if failures >= limit:
                locking.append((key, limit))
            db.execute(
                "INSERT INTO sign_in_failures (key, failures, last_at, locked_until) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, "
                "locked_until = excluded.locked_until",
                [key, failures, now, now + lockout if failures >= limit else None],
            )
        if random.random() < SWEEP_CHANCE:
            db.execute("DELETE FROM sign_in_failures WHERE last_at < ? AND COALESCE(locked_until, 0) < ?",
                       [now - lockout, now])
    return locking


def forget(db, guarded):
    """A sign-in succeeded: its name and address start counting afresh. Inside the caller's transaction."""
    db.execute(f"DELETE FROM sign_in_failures WHERE key IN ({', '.join('?' * len(guarded))})",
               [key for key, _ in guarded])


def audit_lockouts(db, actor, locking, lockout):
    """One audit row per guard a failed sign-in locked. Inside the caller's transaction."""
    for key, limit in locking:
        kind, _, value = key.partition(":")
        name, _, address = value.rpartition("@") if kind == "account" else ("", "", value)
        selection = {"account": name, "address": address} if kind == "account" else {"address": address}
        audit.record(db, "console_sign_in_locked", actor, selection,
                     detail=f"{limit} wrong passwords; sign-in refused for {lockout} s")
