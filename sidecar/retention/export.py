"""ZIP export of a selection, or of everything held about one user, streamed.

The archive is produced while it is sent: no temporary copy, and memory stays flat whatever
the size (one chunk of one image, read from the folder or streamed from the bucket, and one page
of rows at a time). PNGs are stored, not recompressed.
manifest.csv comes first and lists every image with the SHA-256 taken when it was stored;
each file's bytes are hashed again as they are sent, and any file that is missing or no
longer matches is listed in problems.csv at the end, so the archive never claims more than
it holds.
"""
import csv
import datetime
import hashlib
import io
import json
import time
import zipfile

from .. import attempts, audit, camshots
from ..db import connect, database_location, write_transaction
from ..reports.pdf import attempt_pdfs
from .selection import where

CHUNK = 64 * 1024
PAGE = 200  # attempts read per query
MAX_QUIZ_IDS = 1000  # quizzes named in one privacy export; Moodle asks for one at a time
ZIP_EARLIEST = 315532800  # 1980-01-01, the first date a ZIP entry can carry
ZIP_LATEST = 4354819199  # 2107-12-31 23:59:59, its last
MANIFEST_FIELDS = ("file", "attempt", "user", "kind", "taken_at", "status", "faces", "distance", "sha256")
ATTEMPT_FIELDS = ("attempt", "user", "user_name", "course", "course_name", "quiz", "quiz_name", "started_at",
                  "finished_at", "legal_hold", "score", "flagged", "review")


class _Sink(io.RawIOBase):
    """An unseekable file the ZIP writer fills and the response drains."""

    def __init__(self):
        super().__init__()
        self.chunks = []

    def writable(self):
        return True

    def write(self, data):
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self):
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def figures(db, selection, now, default_days):
    """What an export of the selection holds: attempts, camshots, bytes (held ones included)."""
    condition, params = where(selection, now, default_days)
    count = db.execute(f"SELECT count(*) FROM attempts a WHERE {condition}", params).fetchone()[0]
    camshots, size = db.execute(
        f"SELECT count(*), COALESCE(sum(c.bytes), 0) FROM camshots c JOIN attempts a ON a.id = c.attempt_id "
        f"WHERE {condition}", params
    ).fetchone()
    return {"attempts": count, "camshots": camshots, "bytes": size}


def start(db, database, images, selection, actor, now, default_days, report_pdf=None, detail=""):
    """Audit an export of the selection; (its figures, the stream of its ZIP).

    The stream reads through its own connection to database, so it outlives db.
    """
    totals = figures(db, selection, now, default_days)
    with write_transaction(db):
        audit.record(db, "export", actor, selection, count=totals["camshots"], bytes=totals["bytes"],
                     detail=f"{totals['attempts']} attempt(s){detail}")
    return totals, stream_selection(database, images, selection, now, default_days, report_pdf=report_pdf)


def download(db, config, retention, images, templates, selection, actor, include_reports):
    """Audit an export of the selection; (the stream of its ZIP, the archive's file name), with each
    attempt's report PDF in it if include_reports (templates: the reports' Environment)."""
    now = time.time()
    report_pdf = attempt_pdfs(config, images, templates) if include_reports else None
    _, stream = start(db, database_location(config), images, selection, actor, now, retention.default_days,
                      report_pdf=report_pdf, detail=", with report PDFs" if include_reports else "")
    return stream, f"proctorpy-export-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}.zip"


def stream_selection(database, images, selection, now, default_days, report_pdf=None):
    """Yield the ZIP of a selection's camshots; report_pdf(db, attempt_id) -> bytes adds reports."""
    condition, params = where(selection, now, default_days)
    yield from _stream(database, images, f"SELECT a.id FROM attempts a WHERE {condition}", params, now,
                       report_pdf=report_pdf)


def user_attempts(user_id, quiz_ids=None):
    """SQL and parameters of the user's attempts, at the given quizzes only if any are given."""
    params = {"user_id": user_id}
    sql = "SELECT a.id FROM attempts a WHERE a.user_id = :user_id"
    if quiz_ids is not None:
        params.update({f"quiz{i}": quiz_id for i, quiz_id in enumerate(sorted(quiz_ids))})
        # No quiz at all is FALSE: PostgreSQL refuses an empty IN ().
        sql += (" AND a.quiz_id IN (" + ", ".join(f":quiz{i}" for i in range(len(quiz_ids))) + ")") if quiz_ids \
            else " AND FALSE"
    return sql, params


def start_user(db, database, images, user_id, actor, now, quiz_ids=None, references=True):
    """Audit a privacy export of one user; the stream of its ZIP (stream_user says what it holds)."""
    sql, params = user_attempts(user_id, quiz_ids)
    count, camshots, size = db.execute(
        f"SELECT count(DISTINCT a.id), count(c.id), COALESCE(sum(c.bytes), 0) FROM attempts a "
        f"LEFT JOIN camshots c ON c.attempt_id = a.id WHERE a.id IN ({sql})", params
    ).fetchone()
    selection = {"user_id": user_id}
    if quiz_ids is not None:
        selection.update(quiz_ids=sorted(quiz_ids), references=references)
    with write_transaction(db):
        audit.record(db, "user_export", actor, selection, count=camshots, bytes=size,
                     detail=f"privacy export: {count} attempt(s)")
    return stream_user(database, images, user_id, now, quiz_ids, references)


def stream_user(database, images, user_id, now, quiz_ids=None, references=True):
    """Yield the ZIP of what is held about one user: attempts (at the given quizzes only, if any are
    given) with their events, scores, images and identity photos, and the profile reference photos
    if references is true."""
    sql, params = user_attempts(user_id, quiz_ids)
    yield from _stream(database, images, sql, params, now, user_id=user_id, references=references)


def _stream(database, images, attempts_sql, params, now, report_pdf=None, user_id=None, references=False):
    db = connect(database)
    sink = _Sink()
    problems = []
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            if user_id is not None:
                _write_text(archive, "user.json", json.dumps(_user_record(db, user_id), indent=2), now)
                yield sink.drain()
            with archive.open(_info("attempts.csv", now), "w") as out:
                text = io.TextIOWrapper(out, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(ATTEMPT_FIELDS)
                for attempt_ids in _pages(db, attempts_sql, params):
                    for row in _attempt_rows(db, attempt_ids):
                        writer.writerow(row)
                    text.flush()
                    yield sink.drain()
                text.detach()
            with archive.open(_info("manifest.csv", now), "w") as out:
                text = io.TextIOWrapper(out, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(MANIFEST_FIELDS)
                for attempt_ids in _pages(db, attempts_sql, params):
                    for entry in _entries(db, images, attempt_ids, now, user_id):
                        writer.writerow([entry[f] for f in MANIFEST_FIELDS])
                    text.flush()
                    yield sink.drain()
                if references:
                    for entry in _profile_entries(db, images, user_id, now):
                        writer.writerow([entry[f] for f in MANIFEST_FIELDS])
                text.detach()
            for attempt_ids in _pages(db, attempts_sql, params):
                for attempt_id in attempt_ids:
                    for entry in _entries(db, images, [attempt_id], now, user_id):
                        yield from _write_file(archive, sink, images, entry, problems)
                    if user_id is not None:
                        _write_text(archive, f"{_folder(db, attempt_id)}/attempt.json",
                                    json.dumps(attempts.attempt_detail(db, attempt_id), indent=2), now)
                    if report_pdf is not None:
                        _write_bytes(archive, f"{_folder(db, attempt_id)}/report.pdf", report_pdf(db, attempt_id), now)
                    yield sink.drain()
            if references:
                for entry in _profile_entries(db, images, user_id, now):
                    yield from _write_file(archive, sink, images, entry, problems)
            if problems:
                _write_text(archive, "problems.csv", _csv([("file", "problem"), *problems]), now)
        yield sink.drain()
    finally:
        db.close()


def _pages(db, attempts_sql, params):
    """Attempt ids in ascending pages, each page its own short read."""
    last = 0
    while True:
        ids = [r[0] for r in db.execute(
            f"SELECT id FROM ({attempts_sql}) AS chosen WHERE id > :last ORDER BY id LIMIT {PAGE}", {**params, "last": last})]
        if not ids:
            return
        yield ids
        last = ids[-1]


def _folder(db, attempt_id):
    attempt = attempts.load_attempt(db, attempt_id)
    return f"course-{attempt['course_id']}/quiz-{attempt['quiz_id']}/attempt-{attempt_id}"


def _entries(db, images, attempt_ids, now, user_id):
    """Manifest entries of the attempts' camshots and the references they were judged against (and identity
    photos, for a user export).

    Only camshots received before the export began are listed, so the two passes over
    the rows (manifest, then files) agree while uploads continue.
    """
    marks = ", ".join("?" * len(attempt_ids))
    rows = db.execute(
        "SELECT c.id, c.attempt_id, a.user_id, a.course_id, a.quiz_id, c.kind, c.taken_at, c.status, c.faces, "
        f"c.distance, c.sha256, c.path FROM camshots c JOIN attempts a ON a.id = c.attempt_id "
        f"WHERE c.attempt_id IN ({marks}) AND c.received_at <= ? ORDER BY c.attempt_id, c.taken_at, c.id",
        [*attempt_ids, now],
    ).fetchall()
    # A camshot the worker has not converted yet goes in as the PNG it will have, hashed as that PNG.
    pending = camshots.originals(db, [row[0] for row in rows])
    for row in rows:
        camshot_id, attempt_id, owner, course_id, quiz_id, kind, taken_at, status, faces, distance, sha, path = row
        original = pending.get(camshot_id)
        if original is not None:
            sha = hashlib.sha256(camshots.converted(original)).hexdigest()
        yield {
            "file": f"course-{course_id}/quiz-{quiz_id}/attempt-{attempt_id}/{_stamp(taken_at)}_{camshot_id}.png",
            "attempt": attempt_id, "user": owner, "kind": kind, "taken_at": taken_at, "status": status,
            "faces": "" if faces is None else faces, "distance": "" if distance is None else round(distance, 4),
            "sha256": sha, "path": path, "date": taken_at / 1000, "original": original,
        }
    # The reference each attempt was judged against goes with it; a user's export has its identity photos too.
    only_frozen = "" if user_id is not None else "AND r.id = a.reference_photo_id "
    for photo_id, attempt_id, owner, course_id, quiz_id, path, created_at, frozen in db.execute(
        f"SELECT r.id, r.attempt_id, a.user_id, a.course_id, a.quiz_id, r.path, r.created_at, "
        f"r.id = a.reference_photo_id FROM reference_photos r JOIN attempts a ON a.id = r.attempt_id "
        f"WHERE r.attempt_id IN ({marks}) AND r.created_at <= ? {only_frozen}ORDER BY r.attempt_id, r.created_at, r.id",
        [*attempt_ids, now],
    ).fetchall():
        name = "judged_against" if frozen else "identity"
        yield _photo_entry(images, f"course-{course_id}/quiz-{quiz_id}/attempt-{attempt_id}/{name}_{photo_id}.png",
                           attempt_id, owner, "frozen_reference" if frozen else "identity_photo", path, created_at)


def _profile_entries(db, images, user_id, now):
    """The user's profile reference photos, which belong to no attempt."""
    return [
        _photo_entry(images, f"reference/profile_{photo_id}.png", "", user_id, "profile_photo", path, created_at)
        for photo_id, path, created_at in db.execute(
            "SELECT id, path, created_at FROM reference_photos WHERE user_id = ? AND attempt_id IS NULL "
            "AND created_at <= ?", [user_id, now]).fetchall()
    ]


def _photo_entry(images, name, attempt_id, user_id, kind, path, created_at):
    """Reference photos carry no stored hash: it is taken when they are listed."""
    return {"file": name, "attempt": attempt_id, "user": user_id, "kind": kind, "taken_at": round(created_at * 1000),
            "status": "", "faces": "", "distance": "", "sha256": _file_sha256(images, path), "path": path,
            "date": created_at}


def _file_sha256(images, path):
    digest = hashlib.sha256()
    try:
        with images.open(path) as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()


def _write_file(archive, sink, images, entry, problems):
    """Copy one stored image into the archive chunk by chunk, checking its hash."""
    digest = hashlib.sha256()
    try:
        original = entry.get("original")
        source = io.BytesIO(camshots.converted(original)) if original is not None else images.open(entry["path"])
    except FileNotFoundError:
        problems.append((entry["file"], "file missing: purged or lost since it was listed"))
        return
    with source, archive.open(_info(entry["file"], entry["date"]), "w") as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            yield sink.drain()
    if digest.hexdigest() != entry["sha256"]:
        problems.append((entry["file"], "content differs from the SHA-256 in manifest.csv"))
    yield sink.drain()


def _info(name, when):
    """A ZipInfo stamped with the datum's own time, within the dates a ZIP can hold (1980 to 2107)."""
    stamp = datetime.datetime.fromtimestamp(min(max(when, ZIP_EARLIEST), ZIP_LATEST), datetime.timezone.utc)
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _write_text(archive, name, text, when):
    _write_bytes(archive, name, text.encode(), when)


def _write_bytes(archive, name, data, when):
    with archive.open(_info(name, when), "w") as out:
        out.write(data)


def _csv(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def _stamp(taken_at):
    """A camshot's time in its file name; a time no calendar can show (a row stored before times were
    checked) is written as its milliseconds."""
    try:
        moment = datetime.datetime.fromtimestamp(taken_at / 1000, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"ms{taken_at}"
    return moment.strftime("%Y%m%dT%H%M%S") + f".{taken_at % 1000:03d}Z"


def _attempt_rows(db, attempt_ids):
    """The attempts.csv rows (ATTEMPT_FIELDS) of these attempts."""
    for a in attempts.listed_attempts(db, attempt_ids):
        row = (a["id"], a["user_id"], a["user_fullname"], a["course_id"], a["course_name"], a["quiz_id"],
               a["quiz_name"], a["started_at"], a["finished_at"], int(a["legal_hold"]), a["score"], a["flagged"],
               a["review"])
        yield ["" if value is None else value for value in row]


def _user_record(db, user_id):
    row = db.execute("SELECT id, fullname, updated_at FROM users WHERE id = ?", [user_id]).fetchone()
    return {
        "user": {"id": row[0], "fullname": row[1], "updated_at": row[2]} if row else {"id": user_id},
        "exported_at": time.time(),
        "contents": "attempts.csv lists the attempts; manifest.csv every image with its SHA-256; each attempt "
                    "folder holds attempt.json (shots, events, score, review, identity) and the camshots, with the "
                    "reference the attempt was judged against (judged_against_*.png) and its identity photos; "
                    "reference/ holds the profile photos used to recognise the user.",
    }

