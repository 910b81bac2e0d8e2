"""What the admin commands share: the database they open and who they act as in the audit log."""
import getpass
import os

import click

from . import db as database
from . import storage


def cli_actor():
    name = os.environ.get("SUDO_USER") or getpass.getuser()
    return {"actor_type": "cli", "actor_id": name, "actor_name": name}


def open_database(config):
    """The data dir's database, migrated; a command run before `proctorpy init` is told so."""
    path = storage.database_path(config.data_dir)
    if not path.exists():
        raise click.ClickException(f"{path} does not exist; run `proctorpy init` first.")
    db = database.connect(path)
    database.migrate(db)
    return db
