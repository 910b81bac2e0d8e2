"""Commands: proctorpy purge, proctorpy export, proctorpy retention run."""
import datetime
import json
import os
import sys
import time

import click

from ..db import database_location
from ..commands import Progress, cli_actor, open_database
from ..config import load_config
from ..errors import ProctorpyError
from ..storage import image_store
from . import export, purge, scheduler
from .selection import describe, plan, quizzes_of, read_selection
from .settings import retention_settings


def selection_options(function):
    for option in reversed([
        click.option("--course-id", type=int, help="Attempts of this Moodle course id."),
        click.option("--cm-id", type=int,
                     help="Attempts of the quiz with this course module id, the id= in its Moodle address."),
        click.option("--quiz-id", type=int, help="Attempts of the quiz with this instance id (Moodle's quiz.id, "
                     "not the id in its address: use --cm-id for that)."),
        click.option("--user-id", type=int, help="Attempts of this Moodle user id."),
        click.option("--attempt-id", type=int, help="This Moodle attempt id."),
        click.option("--before", help="Attempts that ended before this date (YYYY-MM-DD, UTC) or unix time."),
        click.option("--expired", is_flag=True, help="Attempts whose retention policy has expired."),
    ]):
        function = option(function)
    return function


def cli_selection(course_id, cm_id, quiz_id, user_id, attempt_id, before, expired):
    body = {"course_id": course_id, "quiz_id": quiz_id, "cm_id": cm_id, "user_id": user_id, "attempt_id": attempt_id,
            "expired": expired or None}
    if before:
        if before.isdigit():
            body["before"] = int(before)
        else:
            try:
                day = datetime.datetime.strptime(before, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
            except ValueError:
                raise click.BadParameter("give a date as YYYY-MM-DD or unix seconds", param_hint="--before")
            body["before"] = int(day.timestamp())
    try:
        return read_selection(body)
    except ProctorpyError as error:
        raise click.UsageError(error.message)


@click.command("purge")
@selection_options
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def purge_command(dry_run, yes, as_json, **fields):
    """Delete the attempts of a selection (files, then rows, in batches)."""
    config = load_config()
    retention = retention_settings(config)
    selection = cli_selection(**fields)
    db = open_database(config)
    try:
        now = int(time.time())
        figures = plan(db, selection, now, retention.default_days)
        if not as_json:
            show_quizzes(*quizzes_of(db, selection, now, retention.default_days))
        if dry_run or not figures["attempts"]:
            show(figures, f"Dry run ({describe(selection)})" if dry_run else "Nothing to delete", as_json, dry_run)
            return
        if not yes:
            click.confirm(f"Delete {figures['attempts']} attempt(s), {figures['camshots']} camshot(s), "
                          f"{figures['bytes'] / 1e6:.1f} MB ({describe(selection)})?", abort=True, err=True)
        with Progress("Purging", "camshots") as progress:
            result = purge.purge_with_settings(db, retention, image_store(config), selection, cli_actor(), now,
                                               progress)
        show(result, f"Purged ({describe(selection)})", as_json, False)
    finally:
        db.close()


def show_quizzes(shown, total):
    """Name the quizzes a selection reaches before anything is deleted (on stderr, beside the prompt)."""
    for quiz in shown:
        click.echo(f"  {quiz['quiz_name'] or 'Quiz'} in {quiz['course_name'] or 'a course'} "
                   f"(view.php?id={quiz['cm_id']}): {quiz['attempts']} attempt(s)", err=True)
    if total > len(shown):
        click.echo(f"  and {total - len(shown)} more quiz(zes)", err=True)


def show(figures, title, as_json, dry_run):
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, **{k: figures[k] for k in purge.TOTALS}}))
        return
    click.echo(f"{title}: {figures['attempts']} attempt(s), {figures['camshots']} camshot(s), "
               f"{figures['bytes']} bytes; {figures['held']} attempt(s) on legal hold kept.")


@click.command("export")
@selection_options
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="ZIP file to write, or - for standard output.")
def export_command(output, **fields):
    """Write a ZIP of a selection's camshots with manifest.csv."""
    config = load_config()
    selection = cli_selection(**fields)
    db = open_database(config)
    now = time.time()
    try:
        totals, stream = export.start(db, database_location(config), image_store(config), selection,
                                      cli_actor(), now, retention_settings(config).default_days,
                                      detail=", command line")
    finally:
        db.close()
    target = sys.stdout.buffer if output == "-" else open(output + ".part", "wb")
    try:
        # The ZIP's size is known only once written: its progress is counted against the images' bytes.
        with Progress(f"Writing {output}", "bytes") as progress:
            written = 0
            for chunk in stream:
                target.write(chunk)
                written += len(chunk)
                progress(written, max(totals["bytes"], written))
    except BaseException:
        if output != "-":
            target.close()
            os.unlink(output + ".part")
        raise
    if output != "-":
        target.close()
        os.replace(output + ".part", output)
        click.echo(f"Wrote {output}: {totals['attempts']} attempt(s), {totals['camshots']} camshot(s).", err=True)


@click.group("retention")
def retention_group():
    """The daily retention job."""


@retention_group.command("run")
def retention_run():
    """Run the daily job now: finish interrupted purges, purge what expired, prune the audit log."""
    config = load_config()
    open_database(config).close()
    result = scheduler.run_daily(config, database_location(config))
    if result is None:
        raise click.ClickException("Another process is running the daily job right now.")
    click.echo(json.dumps(result, indent=2))
