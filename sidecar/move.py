"""Moving a single-machine installation (the data dir's SQLite file and image folder) to the
configured PostgreSQL database and S3-compatible store, so that several nodes can share it.

The old data dir is only read: everything is copied, and the admin removes the folder once the
new nodes answer. Images go before rows, so the new place never holds a row without its image
(every node keeps that rule: a camshot is acknowledged once its image is stored and its row
committed). Each step skips what is already there, so a move that was interrupted is finished
by running the command again.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import audit, db, installation, storage

BATCH = 1000  # rows per insert batch and per transaction
PARALLEL_PUTS = 8  # images in flight at once: an object store answers each put after a round trip


class MoveRefused(Exception):
    """The move cannot start, or did not finish: the message says why and what to do."""


def plan(config, source_dir):
    """What the move does: (moves the rows?, the target image store, or None when the images stay);
    MoveRefused when it cannot start."""
    source_dir = Path(source_dir).resolve()
    database_file = storage.database_path(source_dir)
    if not database_file.is_file():
        raise MoveRefused(f"{source_dir} holds no {storage.DATABASE_FILE}: it is not a proctorpy data dir")
    pid_file = storage.pid_path(source_dir)
    if pid_file.exists() and process_alive(pid_file.read_text().strip()):
        raise MoveRefused(f"a sidecar still runs on {source_dir} (pid file {pid_file}); stop it first, so that "
                          "no camshot arrives there during the move")
    target_store = storage.image_store(config)
    moves_rows = db.is_postgresql(db.database_location(config))
    moves_images = not (target_store.local and Path(target_store.root).resolve() == source_dir)
    if not moves_rows and not moves_images:
        raise MoveRefused("the configuration names this same SQLite file and image folder: set database.url "
                          "(PostgreSQL) and storage.backend = \"s3\" to the new places first")
    return moves_rows, target_store if moves_images else None


def process_alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def move(config, source_dir, say=print):
    """Copy the installation in source_dir to the configured places; return counts of what was done."""
    moves_rows, target_store = plan(config, source_dir)
    source = db.connect(storage.database_path(source_dir))
    target = db.connect(db.database_location(config)) if moves_rows else source
    counts = {}
    try:
        # Both at the same schema, so that every column copied has its place.
        db.migrate(source)
        if moves_rows:
            db.migrate(target)
            refuse_another_installation(source, target)
        if target_store is not None:
            with db.write_transaction(source):
                installation.claim_store(target_store, installation.installation_id(source))
        if moves_rows:
            with db.write_transaction(target):
                installation.adopt(target, source)
        if target_store is not None:
            counts.update(copy_images(source, storage.FolderStore(source_dir, fsync=False), target_store, say))
        if moves_rows:
            counts["rows"] = copy_rows(source, target, say)
        verify(source, target, target_store or storage.FolderStore(source_dir))
        with db.write_transaction(target):
            audit.record(target, "installation_moved", audit.SYSTEM, count=counts.get("images_copied"),
                         detail=f"from {Path(source_dir).resolve()}")
    finally:
        if target is not source:
            target.close()
        source.close()
    return counts


def refuse_another_installation(source, target):
    """A target that holds another installation's data is refused, whatever its ids: two Moodle sites'
    attempt and user ids overlap, and merging them would hand one site's camshots to the other's students."""
    with db.write_transaction(source):
        source_id = installation.installation_id(source)
    with db.write_transaction(target):
        target_id = installation.installation_id(target)
    source_site, target_site = installation.moodle_site(source), installation.moodle_site(target)
    if source_site and target_site and source_site != target_site:
        raise MoveRefused(f"the target database serves the Moodle site {target_site!r}, this installation "
                          f"{source_site!r}: it belongs to another installation; give the move an empty database")
    if target_id == source_id:
        return  # an interrupted move of this same installation, run again
    held = {table: target.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("attempts", "reference_photos")}
    if any(held.values()):
        counts = ", ".join(f"{count} {table.replace('_', ' ')} row(s)" for table, count in held.items() if count)
        raise MoveRefused(f"the target database belongs to another installation (id {target_id}, this one is "
                          f"{source_id}) and already holds {counts}: give the move an empty database")


def image_keys(database):
    """The key of every image a row names: what was acknowledged, and nothing else. A camshot kept as received
    has no image yet: its original moves with the rows."""
    return [row[0] for row in database.execute(
        "SELECT path FROM camshots WHERE id NOT IN (SELECT camshot_id FROM camshot_originals) "
        "UNION SELECT path FROM reference_photos")]


def copy_images(source_db, source_store, target_store, say):
    stored = {key for key, _ in target_store.scan([storage.IMAGES, storage.REFERENCES])}
    wanted = [key for key in image_keys(source_db) if key not in stored]
    say(f"images: {len(stored)} already in {target_store.describe()}, {len(wanted)} to copy")
    missing = []

    def copy(key):
        try:
            data = source_store.get(key)
        except FileNotFoundError:
            missing.append(key)
            return 0
        target_store.put(key, data)
        return 1

    copied = 0
    with ThreadPoolExecutor(PARALLEL_PUTS) as pool:
        for done in pool.map(copy, wanted):
            copied += done
            if copied and copied % 1000 == 0:
                say(f"images: {copied} of {len(wanted)} copied")
    if missing:
        say(f"images: {len(missing)} named by a row were missing from the folder already; their camshots stay "
            "marked unreadable where they are")
    return {"images_copied": copied, "images_missing": len(missing)}


def tables_parents_first(database):
    """The tables to copy, each after the tables its foreign keys point to."""
    tables = sorted(database.table_names() - {"migrations"})
    parents = {table: set() for table in tables}
    for child, _, parent, _ in database.foreign_keys():
        if child != parent and child in parents:
            parents[child].add(parent)
    ordered = []
    while parents:
        ready = sorted(table for table, needs in parents.items() if not needs - set(ordered))
        ordered.extend(ready)
        for table in ready:
            del parents[table]
    return ordered


def copy_rows(source, target, say):
    copied = {}
    for table in tables_parents_first(source):
        columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
        keys = [row[1] for row in sorted(source.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if row[5]]
        listed = ", ".join(columns)
        insert = (f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' for _ in columns)}) "
                  f"ON CONFLICT ({', '.join(keys)}) DO NOTHING")
        rows = source.execute(f"SELECT {listed} FROM {table} ORDER BY {', '.join(keys)}")
        total = 0
        while batch := rows.fetchmany(BATCH):
            with db.write_transaction(target, exclusive=False):
                target.execute_many(insert, batch)
            total += len(batch)
        copied[table] = total
        say(f"rows: {table}: {total}")
    target.restart_numbering()
    return copied


def verify(source, target, target_store):
    """Every row and every image of the source is in the target, or MoveRefused says what is not."""
    if target is not source:
        for table in tables_parents_first(source):
            have, want = (database.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for database in (target, source))
            if have < want:
                raise MoveRefused(f"{table}: {have} rows moved of {want}; run the move again")
    stored = {key for key, _ in target_store.scan([storage.IMAGES, storage.REFERENCES])}
    absent = [key for key in image_keys(source) if key not in stored]
    missing_at_source = [key for key in absent if not (Path(source.path).parent / key).exists()]
    if len(absent) > len(missing_at_source):
        raise MoveRefused(f"{len(absent) - len(missing_at_source)} image(s) are not in the store yet; run the move again")
