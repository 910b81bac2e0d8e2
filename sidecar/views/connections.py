"""The request's database connection: taken on first use, given back when the request ends."""
import os
import threading

from flask import current_app, g

from ..database import connect, is_postgresql, postgresql


class Connections:
    """Where request threads get their connection, one per app.

    SQLite: one connection per thread, opened once and kept for the life of the worker thread
    (opening costs the pragmas, and closing the last connection checkpoints the WAL).
    PostgreSQL: a pool per process, a connection borrowed for one request and given back.
    """

    def __init__(self, location, pool_size):
        self.location = location
        self.pool_size = pool_size
        self.threads = threading.local()
        self.lock = threading.Lock()
        self.pool = None
        self.pool_pid = None

    def open(self):
        if not is_postgresql(self.location):
            db = getattr(self.threads, "db", None)
            if db is None:
                db = self.threads.db = connect(self.location)
            return db
        with self.lock:
            # Opened in the process that serves: gunicorn forks its workers after create_app,
            # and a pool's connections and threads do not survive a fork.
            if self.pool is None or self.pool_pid != os.getpid():
                self.pool = postgresql.open_pool(self.location, self.pool_size)
                self.pool_pid = os.getpid()
        return postgresql.borrow(self.pool)

    def done(self, db):
        """The request is over: never hand its connection on with a transaction open."""
        if is_postgresql(self.location):
            db.close()  # back to the pool, rolled back if need be
        elif db.in_transaction:
            db.rollback()

    def close(self):
        with self.lock:
            if self.pool is not None and self.pool_pid == os.getpid():
                self.pool.close()
            self.pool = None


def get_db():
    """This request's connection."""
    db = g.get("db")
    if db is None:
        db = g.db = current_app.extensions["proctorpy_db"].open()
    return db


def end_request(exception=None):
    db = g.pop("db", None)
    if db is not None:
        current_app.extensions["proctorpy_db"].done(db)


def init_app(app):
    config = app.config["PROCTORPY"]
    # A connection for each request thread, and one for whatever else the process reads.
    app.extensions["proctorpy_db"] = Connections(app.config["DATABASE"], config["server.threads"] + 1)
    app.teardown_appcontext(end_request)


def close_app(app):
    """Close the app's pooled connections (tests and tools that make many apps)."""
    app.extensions["proctorpy_db"].close()
