"""The proctorpy command: serve, init, check, secret, and the admin tasks of each area."""
import os
import shutil
import signal
import subprocess
import sys
import time

import click

from . import db, installation, package_version, storage
from .analysis import queue
from .config import ConfigError, load_config, plain_http_exposure
from .errors import ImageStoreUnavailable
from .secret import create_secret, load_secret


def environment_option(flag, variable, path_type, help):
    """An option exported as an environment variable, so gunicorn's and the analysis workers'
    processes read the same configuration as this command."""

    def remember(ctx, param, value):
        if value:
            os.environ[variable] = value
        return value

    return click.option(flag, type=path_type, callback=remember, expose_value=False, is_eager=True, help=help)


config_option = environment_option(
    "--config", "PROCTORPY_CONFIG", click.Path(dir_okay=False),
    "TOML configuration file (default: $PROCTORPY_CONFIG, else embedded defaults).")
data_dir_option = environment_option(
    "--data-dir", "PROCTORPY_STORAGE_DATA_DIR", click.Path(file_okay=False),
    "Data directory (overrides storage.data_dir).")


@click.group()
def cli():
    """proctorpy sidecar: self-hosted webcam proctoring for Moodle quizzes."""


def prepare(config):
    """Create the data dir, the database and a secret; return (secret, origin, created)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    database = db.connect(db.database_location(config))
    try:
        db.migrate(database)
        with db.write_transaction(database):
            own_id = installation.installation_id(database)
    finally:
        database.close()
    try:
        installation.claim_store(storage.image_store(config), own_id)
    except installation.InstallationConflict as error:
        raise click.ClickException(f"proctorpy does not start: {error}") from None  # `proctorpy check` says so too
    created = False
    try:
        secret, origin = load_secret(config)
    except ConfigError:
        secret, created = create_secret(config)
        origin = str(storage.secret_path(config.data_dir))
    return secret, origin, created


@cli.command()
@config_option
@data_dir_option
def init():
    """Create the data directory, the database and the shared secret."""
    config = load_config()
    secret, origin, created = prepare(config)
    click.echo(f"Data directory: {config.data_dir}")
    if created:
        click.echo(f"Shared secret (paste it into Moodle's proctorpy settings; shown once): {secret}")
    else:
        click.echo(f"Shared secret: already set ({origin}); `proctorpy secret` shows it.")


@cli.command()
@config_option
@data_dir_option
@click.option("--host", help="Address to bind (overrides server.host).")
@click.option("--port", type=int, help="Port to bind (overrides server.port).")
def serve(host, port):
    """Run the sidecar under gunicorn, with its analysis workers and scheduler."""
    if host:
        os.environ["PROCTORPY_SERVER_HOST"] = host
    if port:
        os.environ["PROCTORPY_SERVER_PORT"] = str(port)
    config = load_config()
    secret, origin, created = prepare(config)
    images = storage.image_store(config)
    if images.local:
        database = db.connect(db.database_location(config))
        try:
            repaired = storage.repair(database, images)
        finally:
            database.close()
        if any(repaired.values()):
            click.echo(f"Startup repair: {repaired}")
    else:
        # Not at each start: listing a bucket costs minutes at scale (storage/repair.py says where it runs).
        click.echo(f"Images in the {images.describe()}: repaired by the daily retention job and `proctorpy repair`")
    address = f"http://{config['server.host']}:{config['server.port']}"
    public = config["server.public_url"] or address
    click.echo(f"proctorpy sidecar listening on {address} (data: {config.data_dir})")
    if created:
        click.echo(f"Shared secret (paste it into Moodle's proctorpy settings; shown once): {secret}")
    else:
        click.echo(f"Shared secret: from {origin} (`proctorpy secret` shows it)")
    click.echo(f"Admin console: {public}/console/")
    click.echo("  Sign in from Moodle (Site administration > Plugins > Activity modules > Quiz > Webcam proctoring")
    click.echo("  (proctorpy) > Open the sidecar console), or create a")
    click.echo("  local admin with `proctorpy admin create NAME` and sign in with it.")
    click.echo("  No Moodle yet? `proctorpy demo` loads a demo course of analysed attempts.")
    sys.stdout.flush()
    run_services(config)


def gunicorn_command(config):
    """The web server's command line; its settings come from sidecar.server.gunicorn_settings."""
    return [sys.executable, "-m", "sidecar.server"]


def run_services(config):
    """Start gunicorn and the background services; stop them all on SIGTERM or SIGINT.

    SIGHUP reloads the web server gracefully (systemctl reload): gunicorn reads the
    configuration again and replaces its workers without dropping requests.
    """
    from .analysis.worker import WorkerPool, worker_count
    from .metrics import multiprocess_dir
    from .retention.scheduler import start_scheduler
    from .server import GRACEFUL_TIMEOUT, remove_stale_pidfile

    # Set before any child starts: gunicorn workers and analysis workers share their counters there.
    metrics_dir, owned = multiprocess_dir(os.environ)
    remove_stale_pidfile(config)
    children = [subprocess.Popen(gunicorn_command(config))]
    analysis_workers = WorkerPool(worker_count(config) if config["analysis.with_server"] else 0)
    analysis_workers.start()
    # Here in the supervisor, not in gunicorn workers: one scheduler per sidecar, whether or
    # not the analysis workers run elsewhere (a database lease keeps two sidecars apart).
    retention = start_scheduler(config)
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: children[0].send_signal(signal.SIGHUP))
    try:
        while not stopping and all(child.poll() is None for child in children):
            analysis_workers.check()
            time.sleep(0.5)
    finally:
        retention.shutdown(wait=False)
        analysis_workers.stop()
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=GRACEFUL_TIMEOUT + 5)
            except subprocess.TimeoutExpired:
                child.kill()
        if owned:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    sys.exit(1 if failed and not stopping else 0)


@cli.command()
@config_option
@data_dir_option
@click.option("--processes", type=int, help="Worker processes (overrides analysis.workers; 0 means one per core).")
def worker(processes):
    """Run analysis workers without the web server, until SIGTERM or SIGINT."""
    from .analysis.worker import run_pool, run_worker, worker_count

    if processes is not None:
        os.environ["PROCTORPY_ANALYSIS_WORKERS"] = str(processes)
    config = load_config()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    database = db.connect(db.database_location(config))
    try:
        db.migrate(database)
    finally:
        database.close()
    count = worker_count(config)
    click.echo(f"proctorpy: {count} analysis worker(s) on {config.data_dir}", err=True)
    sys.exit(run_worker(config) if count == 1 else run_pool(count))


@cli.command()
@config_option
@data_dir_option
def check():
    """Check the configuration, database, disk and face models; say what is wrong."""
    problems = []
    config = load_config()
    click.echo(f"config: ok (data dir {config.data_dir})")
    for exposure in plain_http_exposure(config):
        click.echo("WARNING plain HTTP: " + exposure, err=True)
    try:
        _, origin = load_secret(config)
        click.echo(f"secret: ok (from {origin})")
    except ConfigError as error:
        problems.append(f"secret: {error}")
    problems.extend(check_database(config))
    problems.extend(check_images(config))
    if config.data_dir.exists():
        free = shutil.disk_usage(config.data_dir).free
        if free < config["storage.min_free_bytes"] and config["storage.backend"] == "folder":
            problems.append(f"disk: {free // 2**20} MiB free, under the floor of {config['storage.min_free_bytes'] // 2**20} MiB")
        else:
            click.echo(f"disk: ok ({free // 2**20} MiB free)")
        if not os.access(config.data_dir, os.W_OK):
            problems.append(f"disk: {config.data_dir} is not writable")
    from .analysis.models import check_models

    try:
        click.echo("face models: ok (" + ", ".join(check_models()) + ")")
    except RuntimeError as error:
        problems.append(f"face models: {error}")
    import dlib

    if dlib.DLIB_USE_BLAS:
        click.echo(f"dlib: {dlib.__version__} with BLAS")
    else:
        click.echo(f"dlib: {dlib.__version__} without BLAS: analysis runs about 2.4x slower; `make install` builds it "
                   "with OpenBLAS")
    for problem in problems:
        click.echo("PROBLEM " + problem, err=True)
    sys.exit(1 if problems else 0)


def refuse_unless_embedded(config, command):
    """`proctorpy backup` and `restore` copy the SQLite file and the image folder: with PostgreSQL or a
    bucket, their own tools do those parts, and the refusal says how."""
    if not config["database.url"] and config["storage.backend"] == "folder":
        return
    steps = []
    if config["database.url"]:
        steps.append("the PostgreSQL database with pg_dump (pg_dump -Fc -f proctorpy.dump DATABASE_URL; restore "
                     "with pg_restore -d DATABASE_URL proctorpy.dump)")
    else:
        steps.append(f"the SQLite file with sqlite3 {storage.database_path(config.data_dir)} \".backup COPY\"")
    if config["storage.backend"] == "s3":
        steps.append(f"the images in bucket {config['storage.s3.bucket']} by turning on the bucket's versioning "
                     "(deleted or overwritten objects stay recoverable) or by copying it to another bucket or "
                     "host (rclone sync, aws s3 sync), after the database dump so every row's image is in the copy")
    else:
        steps.append("the data dir's images/ and references/ folders, after the database dump")
    raise click.ClickException(
        f"`proctorpy {command}` handles an installation on SQLite and the image folder only. Back up "
        + "; and ".join(steps) + ". The admin guide's Backup section has the commands.")


def check_images(config):
    """Say which image store is in use and whether it answers (a probe image written, read, deleted);
    return the problems found."""
    images = storage.image_store(config)
    if images.local and not config.data_dir.exists():
        return [f"images: {images.describe()} does not exist; run `proctorpy init`"]
    try:
        click.echo(f"images: ok ({images.probe()})")
        owner = installation.store_owner(images)
    except (ImageStoreUnavailable, OSError) as error:
        return [f"images: {images.describe()}: {error}"]
    own_id = installation.kept_id(db.database_location(config))
    if owner and own_id and owner != own_id:
        return [f"images: the {images.describe()} belongs to another installation (id {owner}; this one is {own_id}): "
                "the sidecar refuses to start on it; give each installation a bucket or prefix of its own "
                "(storage.s3.prefix)"]
    return []


def check_database(config):
    """Say which database is in use and whether it answers; return the problems found."""
    location = db.database_location(config)
    named = db.describe(location)
    if not db.is_postgresql(location) and not location.exists():
        return [f"database: {named} does not exist; run `proctorpy init`"]
    try:
        database = db.connect(location)
    except db.DatabaseUnavailable as error:
        return [f"database: {error}"]
    try:
        if "migrations" not in database.table_names():
            return [f"database: {named} holds no proctorpy tables yet; run `proctorpy init`"]
        pending = db.pending_migrations(database)
        integrity = database.integrity_problem()
        backlog = queue.backlog(database)
    finally:
        database.close()
    if integrity:
        return [f"database: integrity check failed: {integrity}"]
    if pending:
        return [f"database: {len(pending)} migration(s) not applied; `proctorpy init` applies them"]
    oldest = backlog["oldest_created_at"]
    age = f", oldest {time.time() - oldest:.0f} s" if oldest else ""
    click.echo(f"database: ok ({database.engine}, {named}); analysis queue: "
               f"{backlog['queued'] + backlog['running']} job(s){age}")
    return []


@cli.command()
@config_option
@data_dir_option
@click.option("--grace", type=int, default=storage.ORPHAN_GRACE_SECONDS, show_default=True,
              help="Seconds an image no row names is left alone: an upload may be about to commit its row.")
def repair(grace):
    """Put the images and the database back in step: delete images no row names, mark rows whose image
    is gone unreadable.

    Safe while sidecars run. The daily retention job does this for a bucket; `proctorpy serve` for
    the folder at each start.
    """
    config = load_config()
    images = storage.image_store(config)
    database = db.connect(db.database_location(config))
    try:
        counts = storage.repair(database, images, grace)
    except ImageStoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    finally:
        database.close()
    click.echo(f"Repaired {images.describe()}: {counts['orphan_files_removed']} image(s) no row named deleted, "
               f"{counts['temp_removed']} unfinished write(s) removed, {counts['missing_files']} row(s) whose image "
               "is gone marked unreadable")


@cli.command()
@config_option
@click.option("--from", "source", required=True, type=click.Path(exists=True, file_okay=False),
              help="The data dir of the single-machine installation (its proctorpy.db and images).")
def move(source):
    """Copy a single-machine installation to the configured PostgreSQL database and S3 store.

    Run it with the configuration of the new place, with no sidecar running on the old data dir,
    which is only read. Images are copied before rows, and what is there already is skipped:
    run it again to finish a move that was interrupted.
    """
    from .move import MoveRefused, move as move_installation

    config = load_config()
    try:
        counts = move_installation(config, source, say=click.echo)
    except (MoveRefused, ImageStoreUnavailable, db.DatabaseUnavailable, installation.InstallationConflict) as error:
        raise click.ClickException(str(error)) from None
    rows = sum(counts.get("rows", {}).values())
    click.echo(f"Moved: {counts.get('images_copied', 0)} image(s) copied, {rows} row(s) copied; every row and image "
               f"of {source} is in the new place. Point every node at this configuration, check that they answer, "
               "then remove the old data dir.")


@cli.command()
@config_option
@data_dir_option
@click.option("--rotate", is_flag=True, help="Generate a new secret (Moodle must be given it too).")
def secret(rotate):
    """Show the shared secret, or rotate it."""
    config = load_config()
    if rotate:
        value, _ = create_secret(config, rotate=True)
        click.echo(value)
        click.echo("Rotated: paste the new secret into Moodle's proctorpy settings and restart the sidecar.", err=True)
        if os.environ.get("PROCTORPY_SECRET") or config["security.secret"]:
            click.echo("Note: PROCTORPY_SECRET or security.secret is set and still wins over the stored one.", err=True)
        return
    value, origin = load_secret(config)
    click.echo(value)
    click.echo(f"(from {origin})", err=True)


from .console.cli import admin_group  # noqa: E402  (each area registers its commands here)
from .site_command import site_command  # noqa: E402
from .retention.cli import export_command, purge_command, retention_group  # noqa: E402

for command in (purge_command, export_command, retention_group, admin_group, site_command):
    cli.add_command(config_option(data_dir_option(command)))


@cli.command()
@config_option
@data_dir_option
@click.option("--photos", type=click.Path(file_okay=False), default=None,
              help="Folder of face photos (default: the demo's own, installed with proctorpy).")
def demo(photos):
    """Load a demo course of analysed attempts, for reports and the console without Moodle."""
    from pathlib import Path

    from .demo import COURSE, PHOTOS, QUIZ, DemoError, load_demo

    config = load_config()
    prepare(config)
    photos = Path(photos) if photos else PHOTOS
    click.echo(f"Loading the demo into {config.data_dir} (six attempts, analysed on this machine)...")
    try:
        rows = load_demo(config, photos)
    except DemoError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{COURSE['course_name']} (course {COURSE['course_id']}), {QUIZ['quiz_name']} (quiz {QUIZ['quiz_id']}):")
    for attempt_id, name, scene, score, flagged in rows:
        shown = "no score" if score is None else f"score {score:5.1f}" + ("  FLAGGED" if flagged else "")
        click.echo(f"  attempt {attempt_id}  {name:<20} {shown:<22} {scene}")
    click.echo("See them in the console (`proctorpy serve`, then open the Admin console address it prints).")


@cli.command()
@config_option
@data_dir_option
@click.argument("dest", type=click.Path(file_okay=False))
def backup(dest):
    """Back up the database and the images its rows name into DEST (new or empty).

    Safe while the sidecar runs: the database is copied as one snapshot, then exactly the
    files that snapshot names. DEST holds the shared secret too: keep it private.
    """
    from . import backup as backups
    from .commands import Progress

    config = load_config()
    refuse_unless_embedded(config, "backup")
    try:
        with Progress("Backing up", "files") as progress:
            manifest = backups.backup(config.data_dir, dest, package_version(), progress)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up {manifest['camshots']} camshot(s), {manifest['files']} file(s), "
               f"{manifest['bytes'] // 2**20} MiB, in {manifest['seconds']} s into {dest}")
    for name, problem in (("missing_files", "named by a row but gone (purged meanwhile?)"),
                          ("mismatched_files", "whose content differs from the SHA-256 of its row")):
        if manifest[name]:
            click.echo(f"WARNING {len(manifest[name])} file(s) {problem}: {', '.join(manifest[name][:5])}", err=True)


@cli.command()
@config_option
@data_dir_option
@click.argument("source", type=click.Path(exists=True, file_okay=False))
def restore(source):
    """Restore the backup in SOURCE into the data dir, which must be empty or new."""
    from . import backup as backups

    config = load_config()
    refuse_unless_embedded(config, "restore")
    try:
        restored = backups.restore(source, config.data_dir)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored {restored['files']} file(s), {restored['bytes'] // 2**20} MiB into {config.data_dir}")
    if restored["migrations"]:
        click.echo("Applied migrations: " + ", ".join(restored["migrations"]))
    if any(restored["repair"].values()):
        click.echo(f"Startup repair: {restored['repair']}")
    click.echo("Start the sidecar (`proctorpy serve` or `systemctl start proctorpy`).")


def main():
    try:
        cli(standalone_mode=True)
    except ConfigError as error:
        click.echo(f"proctorpy: configuration error: {error}", err=True)
        sys.exit(2)
if __name__ == "__main__":
    main()
