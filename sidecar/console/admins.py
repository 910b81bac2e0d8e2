"""Local console admins: names and scrypt password hashes."""
import hashlib
import hmac
import os
import time

from . import sessions

# scrypt cost: 32 MiB and some tens of milliseconds per guess, on the sidecar and an attacker alike.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # scrypt reads all of it; no reason to accept megabytes


class AdminError(Exception):
    "An admin name or password that cannot be used"


def hash_password(password):
    salt = os.urandom(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password, stored):
    """True when password matches the stored hash."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        candidate = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(candidate.hex(), digest)


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)


def check_name(name):
    if not (1 <= len(name) <= 64) or not all(33 <= ord(c) < 127 for c in name):
        raise AdminError("An admin name is 1 to 64 printable ASCII characters without spaces.")
    return name


def check_password_length(password):
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AdminError(f"The password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long.")


def create(db, name, password):
    check_name(name)
    check_password_length(password)
    if db.execute("SELECT 1 FROM admins WHERE name = ?", [name]).fetchone():
        raise AdminError(f"An admin named {name} exists already; delete it first to replace it.")
    db.execute("INSERT INTO admins (name, password_hash, created_at) VALUES (?, ?, ?)",
               [name, hash_password(password), time.time()])


def list_admins(db):
    """(name, created_at, last_sign_in_at or None) of every local admin, by name."""
    return db.execute("SELECT name, created_at, last_sign_in_at FROM admins ORDER BY name").fetchall()


def delete(db, name):
    """Delete the admin and end their sessions; returns how many sessions ended."""
    if db.execute("DELETE FROM admins WHERE name = ?", [name]).rowcount == 0:
        raise AdminError(f"There is no admin named {name}.")
    return sessions.end_all_of(db, f"local:{name}")


def set_password(db, name, password):
    """Give the admin a new password and end their sessions: whoever held the old one is out too.
    Returns how many sessions ended."""
    check_password_length(password)
    if db.execute("UPDATE admins SET password_hash = ? WHERE name = ?", [hash_password(password), name]).rowcount == 0:
        raise AdminError(f"There is no admin named {name}.")
    return sessions.end_all_of(db, f"local:{name}")


def authenticate(db, name, password):
    """The admin's name when name and password match, else None (in about the same time).

    Only reads, so the quarter of a second scrypt takes is never spent holding the write lock
    every upload waits for; record_sign_in() writes the outcome afterwards.
    """
    row = db.execute("SELECT password_hash FROM admins WHERE name = ?", [name]).fetchone()
    if row is None or len(password) > MAX_PASSWORD:
        # Hash anyway, so a wrong name takes as long as a wrong password.
        check_password(password[:MAX_PASSWORD], f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'00' * 16}${'00' * 32}")
        return None
    if not check_password(password, row[0]):
        return None
    return name


def record_sign_in(db, name, now):
    db.execute("UPDATE admins SET last_sign_in_at = ? WHERE name = ?", [now, name])
