"""What the admin commands share: the database they open and who they act as in the audit log."""
import getpass
import os

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
