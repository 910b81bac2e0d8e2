"""Where the metadata lives: the embedded SQLite file (the default) or a PostgreSQL server.

Both engines stand behind one interface, a Database, so the domain code writes its SQL once:
`?` placeholders (or `:name` with a dict), the SQL the two engines share (ON CONFLICT upserts,
RETURNING, CHECK, partial indexes), one IntegrityError, and transactions through
`db.transaction()`. The few pieces that must differ are asked of the Database by name
(`skip_locked`, `integer_part`, `foreign_keys`), each saying why it differs.
"""
from pathlib import Path

from .. import storage
from ..errors import DatabaseUnavailable  # noqa: F401  (raised by the PostgreSQL engine)
from . import postgresql, sqlite
from .errors import IntegrityError  # noqa: F401

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


def is_postgresql(location):
    return str(location).startswith(POSTGRESQL_SCHEMES)


def database_location(config):
    """The database of this configuration: database.url when set, else the data dir's SQLite file."""
    return config["database.url"] or storage.database_path(config.data_dir)


def describe(location):
    """The location for logs and `proctorpy check`, without a password."""
    return postgresql.redact(location) if is_postgresql(location) else str(location)


def connect(location):
    """One connection to the database at location: a SQLite file's path or a PostgreSQL URL."""
    if is_postgresql(location):
        return postgresql.connect(location)
    return sqlite.connect(Path(location) if location != ":memory:" else location)
