"""Command: proctorpy site [--forget] (the installation and the Moodle site it serves)."""
import click

from . import audit, installation
from . import db as database
from .commands import cli_actor, open_database
from .config import load_config


@click.command("site")
@click.option("--forget", is_flag=True,
              help="Forget the Moodle site served, when a new Moodle site replaced it; its next call is learnt.")
def site_command(forget):
    """Show this installation's id and the Moodle site it serves (learnt from the site's first signed call)."""
    db = open_database(load_config())
    try:
        with database.write_transaction(db):
            own_id = installation.installation_id(db)
            served = installation.moodle_site(db)
            if forget and served:
                installation.forget_site(db)
                audit.record(db, "moodle_site_forget", cli_actor(), detail=f"forgot Moodle site {served}")
    finally:
        db.close()
    click.echo(f"Installation: {own_id}")
    if served is None:
        click.echo("Moodle site: none learnt yet; the first signed call that names its site is kept")
    elif forget:
        click.echo(f"Moodle site: {served} forgotten; the next signed call that names its site is kept")
    else:
        click.echo(f"Moodle site: {served} (other sites' calls are refused with 409)")
