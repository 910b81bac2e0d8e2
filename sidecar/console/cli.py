"""Commands: proctorpy admin create | password | list | delete (local console admins)."""
import contextlib
import sys
import time

import click

from .. import audit
from .. import db as database
from ..config import load_config
from ..commands import cli_actor, open_database
from . import admins


@click.group("admin")
def admin_group():
    """Local admins of the console (Moodle admins sign in from Moodle instead)."""


@admin_group.command("create")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
def create(name, password_stdin):
    """Create a local admin NAME; the password is asked for (or read from stdin)."""
    password = read_password(password_stdin)
    with admin_change() as db:
        admins.create(db, name, password)
        audit.record(db, "admin_create", cli_actor(), {"admin": name})
    click.echo(f"Admin {name} created; sign in at /console/login.")


@contextlib.contextmanager
def admin_change():
    """A write transaction on the configured database for one change to the local admins, audited inside it;
    a refusal of the change (admins.AdminError) is the command's error message."""
    db = open_database(load_config())
    try:
        with database.write_transaction(db):
            yield db
    except admins.AdminError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()


def read_password(from_stdin):
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@admin_group.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
def password(name, password_stdin):
    """Give the local admin NAME a new password; their console sessions end."""
    new_password = read_password(password_stdin)
    with admin_change() as db:
        ended = admins.set_password(db, name, new_password)
        audit.record(db, "admin_password", cli_actor(), {"admin": name}, count=ended,
                     detail="password changed; console sessions ended")
    click.echo(f"Password of {name} changed; {ended} console session(s) ended.")


@admin_group.command("list")
def list_admins():
    """List local admins and when they last signed in."""
    db = open_database(load_config())
    try:
        rows = admins.list_admins(db)
    finally:
        db.close()
    for name, created, last in rows:
        click.echo(f"{name}\tcreated {stamp(created)}\tlast sign-in {stamp(last) if last else 'never'}")
    if not rows:
        click.echo("No local admins.", err=True)


def stamp(seconds):
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


@admin_group.command("delete")
@click.argument("name")
def delete(name):
    """Delete the local admin NAME."""
    with admin_change() as db:
        ended = admins.delete(db, name)
        audit.record(db, "admin_delete", cli_actor(), {"admin": name}, count=ended, detail="console sessions ended")
    click.echo(f"Admin {name} deleted; {ended} console session(s) ended.")
