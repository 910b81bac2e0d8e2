"""Who this installation is, which Moodle site it serves, and which bucket prefix is its own.

Each database keeps a random installation id, made the first time it is asked for (so that two
copies of one empty template still become two installations) and carried along by `proctorpy
move`, and the site identifier of the Moodle site it serves (Moodle's get_site_identifier()),
learnt from the first signed call that names one. A sidecar that has learnt its site refuses
another site's calls: two Moodle sites' attempt and user ids overlap, and one sidecar serving
both would mix their students' camshots. An object store's prefix holds a marker naming the
installation that writes there, so a second installation given the same bucket and prefix
refuses to start rather than purge or overwrite the first one's images.
"""
import secrets
from pathlib import Path

from . import db as database
from .errors import Conflict

ID_KEY = "id"
SITE_KEY = "moodle_site"
MARKER = "proctorpy-installation"  # the marker object's key, beside the images/ and references/ folders


class InstallationConflict(Exception):
    "The image store or database belongs to another installation"


def read(db, key):
    row = db.execute("SELECT value FROM installation WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def installation_id(db):
    """This database's installation id, made now if it has none. Inside a write transaction when new."""
    found = read(db, ID_KEY)
    if found is None:
        db.execute("INSERT INTO installation (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                   [ID_KEY, secrets.token_hex(16)])
        found = read(db, ID_KEY)
    return found


def kept_id(location):
    """The installation id the database at location keeps, or None when it has none or does not answer
    (`proctorpy check` reports those on their own)."""
    if not database.is_postgresql(location) and not Path(location).exists():
        return None
    try:
        kept = database.connect(location)
    except database.DatabaseUnavailable:
        return None
    try:
        return read(kept, ID_KEY) if "installation" in kept.table_names() else None
    finally:
        kept.close()


def moodle_site(db):
    """The site identifier of the Moodle site this installation serves, or None before it has learnt one."""
    return read(db, SITE_KEY)


def learn_site(db, site):
    """Keep site as the Moodle site served, unless one was learnt already; return the one kept.
    Inside the caller's write transaction."""
    db.execute("INSERT INTO installation (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", [SITE_KEY, site])
    return read(db, SITE_KEY)


def refuse_other_site(served, site):
    """Conflict when a call names a Moodle site other than the one served.

    A signed call that names no site is served as before: metrics scrapers and scripts hold the
    secret and speak for no site, and a plugin too old to name its site has nothing to compare.
    """
    if served is None or not site or site == served:
        return
    raise Conflict(f"This sidecar serves the Moodle site {served!r}, not {site!r}: each Moodle site needs a "
                   "sidecar (and database) of its own. If this Moodle site replaced the other one, run `proctorpy "
                   "site --forget` on the sidecar.", code="site_mismatch")


def forget_site(db):
    """Forget the Moodle site served (it was replaced): the next signed call teaches a new one."""
    return db.execute("DELETE FROM installation WHERE key = ?", [SITE_KEY]).rowcount


def adopt(target, source):
    """The target database takes the source's installation id and Moodle site (`proctorpy move`).
    Inside the caller's transaction on target."""
    for key in (ID_KEY, SITE_KEY):
        value = read(source, key)
        if value is not None:
            target.execute("INSERT INTO installation (key, value) VALUES (?, ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])


def store_owner(images):
    """The installation id the image store's marker names, or None (a folder, or a prefix not claimed yet)."""
    if images.local:
        return None  # the data dir holds this installation's database and images together
    try:
        return images.get(MARKER).decode().strip()
    except FileNotFoundError:
        return None


def claim_store(images, own_id):
    """Mark the image store as this installation's, or InstallationConflict when another's marker is there."""
    if images.local:
        return
    owner = store_owner(images)
    if owner is None:
        images.put(MARKER, own_id.encode())
        owner = store_owner(images)  # read back: of two installations starting at once, one write stays
    if owner != own_id:
        raise InstallationConflict(
            f"the {images.describe()} belongs to another installation (id {owner}; this one is {own_id}, kept in "
            f"its database): give each installation a bucket or prefix of its own (storage.s3.prefix)")
