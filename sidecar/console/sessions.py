"""Console sessions held by the server: a random id in the admin's cookie, its hash in the database.

A session ends when its admin signs out, goes idle, reaches its lifetime, is deleted or has its
password changed: the row goes, and the cookie, wherever it was copied, names nothing any more.
"""
import hashlib
import secrets

SEEN_EVERY = 60  # seconds; a busy admin's last_seen_at is written at most this often


def id_hash(session_id):
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(db, account, name, now, lifetime):
    """A new session of account; returns its id, for the cookie only. Inside the caller's transaction."""
    session_id = secrets.token_urlsafe(32)
    db.execute("INSERT INTO console_sessions (id_hash, account, name, created_at, last_seen_at, expires_at) "
               "VALUES (?, ?, ?, ?, ?, ?)", [id_hash(session_id), account, name, now, now, now + lifetime])
    return session_id


def find(db, session_id, now, idle):
    """(live, account, name, last_seen_at) of the session session_id names, or None when there is none;
    live is False when it went idle or reached its lifetime."""
    if not session_id:
        return None
    row = db.execute("SELECT account, name, last_seen_at, expires_at FROM console_sessions WHERE id_hash = ?",
                     [id_hash(session_id)]).fetchone()
    if row is None:
        return None
    account, name, last_seen, expires = row
    return now - last_seen <= idle and now < expires, account, name, last_seen


def touch(db, session_id, now):
    db.execute("UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ?", [now, id_hash(session_id)])


def end(db, session_id):
    """End one session (sign-out). Inside the caller's transaction."""
    if session_id:
        db.execute("DELETE FROM console_sessions WHERE id_hash = ?", [id_hash(session_id)])


def end_all_of(db, account):
    """End every session of account (deleted, or its password changed); returns how many."""
    return db.execute("DELETE FROM console_sessions WHERE account = ?", [account]).rowcount


def sweep(db, now, idle):
    """Forget sessions past their idle time or lifetime."""
    db.execute("DELETE FROM console_sessions WHERE last_seen_at < ? OR expires_at <= ?", [now - idle, now])
