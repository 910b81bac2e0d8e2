"""The embedded engine: one SQLite file in WAL mode, one writer at a time."""
import contextlib
import fcntl
import os
import sqlite3

import sqlite_utils

from .errors import IntegrityError

BUSY_TIMEOUT_MS = 30_000  # a purge batch or a backup may hold the write lock briefly
# Writes outside a transaction (sqlite-utils' autocommit) start with one of these.
WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def connect(path):
    """A connection with the pragmas every part of the sidecar relies on."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    database = SQLiteDatabase(conn, path, open_writer_lock(path))
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL makes each commit durable on power loss too, not only on a process crash:
    # a camshot is acknowledged only after its row is on disk.
    conn.execute("PRAGMA synchronous = FULL")
    if path != ":memory:" and database.utils.journal_mode != "wal":
        database.utils.enable_wal()
    return database


def open_writer_lock(path):
    """The file descriptor of the database's writer lock (its file beside the database, "-writer"), or None.

    SQLite's own wait for its write lock sleeps 1 ms, then longer, up to 100 ms at a time, whoever
    released the lock meanwhile: at 16 uploads at once that put a tenth of them 100 to 250 ms
    behind. Writers that first take this lock (an flock of their own file descriptor, so threads
    and processes alike take turns) hand SQLite's lock on within a couple of milliseconds. None
    for an in-memory database, or a data dir this process cannot write: SQLite's own lock still
    keeps writers one at a time there, and answers the write.
    """
    if path == ":memory:":
        return None
    try:
        return os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None


class SQLiteDatabase:
    """A SQLite connection behind the interface both engines share."""

    engine = "sqlite"
    # BEGIN IMMEDIATE already keeps every other writer out, so a claim never meets a locked row.
    skip_locked = ""
    # Nor does a read-modify-write need a row lock: its transaction is the one writer until it commits.
    lock_rows = ""
    lock_rows_to_delete = ""

    def __init__(self, conn, path, writer_lock=None):
        self.conn = conn
        self.path = path
        self.utils = sqlite_utils.Database(conn)
        self.writer_lock = writer_lock

    def execute(self, sql, params=()):
        """Run one statement; outside a transaction, a write commits at once (sqlite-utils' rule)."""
        try:
            if not self.conn.in_transaction and sql.lstrip()[:7].upper().startswith(WRITE_STATEMENTS):
                with self.writer_turn():
                    return self.utils.execute(sql, params)
            return self.utils.execute(sql, params)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    @contextlib.contextmanager
    def writer_turn(self):
        """Hold the writer lock for the block (see open_writer_lock).

        The wait has no timeout of its own, and needs none: every holder is a write of this code
        between its flock and its commit, whose own wait for SQLite's lock is bounded by the busy
        timeout, and the kernel drops the lock of a process that dies. A waiter sleeps in the
        kernel until it is its turn; looking again every millisecond instead cost a fifth more
        CPU per camshot at 16 uploads at once.
        """
        if self.writer_lock is None:
            yield
            return
        fcntl.flock(self.writer_lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.writer_lock, fcntl.LOCK_UN)

    def execute_many(self, sql, rows):
        """Run one statement for each row of parameters."""
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    def executescript(self, sql):
        self.utils.executescript(sql)

    @property
    def in_transaction(self):
        return self.conn.in_transaction

    @contextlib.contextmanager
    def transaction(self, exclusive=True):
        """BEGIN IMMEDIATE: take the write lock up front so a read-then-write never deadlocks.

        SQLite has one writer at a time whatever `exclusive` says.
        """
        with self.writer_turn():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.commit()

    def rollback(self):
        self.conn.rollback()

    @contextlib.contextmanager
    def relaxed_durability(self):
        """Commits in this block skip the WAL's fsync: durable against a process crash, not a power cut."""
        self.utils.execute("PRAGMA synchronous = NORMAL")
        try:
            yield self
        finally:
            self.utils.execute("PRAGMA synchronous = FULL")

    def integer_part(self, expression):
        """The SQL of an expression's integer part (CAST truncates in SQLite)."""
        return f"CAST({expression} AS INTEGER)"

    def byte_order(self, expression):
        """The SQL of a text expression that sorts by its bytes, as Python sorts str (SQLite's BINARY default)."""
        return expression

    def install_functions(self):
        """Nothing to add: the sidecar's SQL uses SQLite's own functions."""

    def restart_numbering(self):
        """Nothing to do: an INTEGER PRIMARY KEY numbers on from the largest id in its table."""

    def table_names(self):
        return {row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}

    def foreign_keys(self):
        """(child table, child column, parent table, parent column) of every foreign key."""
        found = []
        for name in sorted(self.table_names()):
            for fk in self.conn.execute(f"PRAGMA foreign_key_list({name})").fetchall():
                # fk: id, seq, table, from, to, on_update, on_delete, match
                found.append((name, fk[3], fk[2], fk[4] or "id"))
        return found

    def integrity_problem(self):
        """None when the file is sound, else what SQLite's quick check says."""
        result = self.conn.execute("PRAGMA quick_check").fetchone()[0]
        return None if result == "ok" else result

    def close(self):
        self.conn.close()
        if self.writer_lock is not None:
            os.close(self.writer_lock)
            self.writer_lock = None
