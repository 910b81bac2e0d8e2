"""Commands: proctorpy admin create | list | delete (local console admins)."""
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
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    db = open_database(load_config())
    try:
        with database.write_transaction(db):
            admins.create(db, name, password)
            audit.record(db, "admin_create", cli_actor(),
                         {"admin": name})
    except admins.AdminError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()
    click.echo(f"Admin {name} created; sign in at /console/login.")


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
    db = open_database(load_config())
    try:
        with database.write_transaction(db):
            admins.delete(db, name)
            audit.record(db, "admin_delete", cli_actor(),
                         {"admin": name})
    except admins.AdminError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()
    click.echo(f"Admin {name} deleted.")
