"""What the admin commands share: the database they open, who they act as in the audit log, and how they
show their progress."""
import getpass
import os
import sys

import click

from . import db as database


def cli_actor():
    name = os.environ.get("SUDO_USER") or getpass.getuser()
    return {"actor_type": "cli", "actor_id": name, "actor_name": name}


def open_database(config):
    """The configured database, migrated; a command run before `proctorpy init` is told so."""
    location = database.database_location(config)
    if not database.is_postgresql(location) and not location.exists():
        raise click.ClickException(f"{location} does not exist; run `proctorpy init` first.")
    db = database.connect(location)
    database.migrate(db)
    return db


class Progress:
    """How far a long command has got, on standard error: click's bar with counts and time left on a
    terminal; elsewhere (a log, a pipe, cron) a plain line at each tenth, since a redrawn bar is noise there.

    Called with (done, total) by the work as it goes; the total may grow while it does.
    """

    def __init__(self, label, unit, terminal=None):
        self.label, self.unit = label, unit
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.bar, self.shown, self.tenth = None, 0, 0

    def __call__(self, done, total):
        if self.terminal:
            if self.bar is None:
                self.bar = click.progressbar(length=max(total, 1), label=self.label, file=sys.stderr,
                                             show_eta=True, show_pos=True, show_percent=True)
            self.bar.length = max(total, done, 1)
            self.bar.update(done - self.shown)
            self.shown = done
            return
        tenth = 10 * done // total if total else 10
        if tenth > self.tenth:
            self.tenth = tenth
            click.echo(f"{self.label}: {done:,} of {total:,} {self.unit} ({min(tenth, 10) * 10} %)", err=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.render_finish()
