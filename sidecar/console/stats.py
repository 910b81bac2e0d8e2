"""Figures of the console dashboard: disk, usage by course and quiz, growth, queue, age."""
import shutil
import time

from .. import storage
from ..retention.selection import plan
from ..sizing import student_hour

DAY = 86400
GROWTH_DAYS = 30  # days shown on the growth chart
RATE_DAYS = 7  # days whose average growth predicts when the disk is full
CHART = {"width": 600, "height": 120, "gap": 2}


def dashboard(db, config, retention, data_dir):
    now = time.time()
    disk = shutil.disk_usage(data_dir)
    floor = config["storage.min_free_bytes"]
    camshots, camshot_bytes, oldest_shot = db.execute(
        "SELECT count(*), COALESCE(sum(bytes), 0), min(received_at) FROM camshots").fetchone()
    photos, photo_bytes = db.execute("SELECT count(*), COALESCE(sum(bytes), 0) FROM reference_photos").fetchone()
    database_bytes = sum(p.stat().st_size for p in storage.database_files(data_dir))
    growth = daily_growth(db, now)
    recent = sum(day["bytes"] for day in growth[-RATE_DAYS:]) / RATE_DAYS
    headroom = max(0, disk.free - floor)
    queue = dict(db.execute("SELECT state, count(*) FROM jobs WHERE state IN ('queued', 'running', 'failed') "
                            "GROUP BY state").fetchall())
    oldest_attempt = db.execute(
        "SELECT id, COALESCE(finished_at, started_at) AS ended FROM attempts ORDER BY ended LIMIT 1").fetchone()
    return {
        "disk": {"total": disk.total, "used": disk.used, "free": disk.free, "floor": floor,
                 # The floor refuses camshots only when they are stored on this disk.
                 "accepting": disk.free >= floor or config["storage.backend"] != "folder", "used_share": disk.used / disk.total if disk.total else 0},
        "stored": {"camshots": camshots, "camshot_bytes": camshot_bytes, "photos": photos,
                   "photo_bytes": photo_bytes, "database_bytes": database_bytes,
                   "total": camshot_bytes + photo_bytes + database_bytes},
        "growth": growth,
        "chart": growth_chart(growth),
        "rate_per_day": recent,
        "days_until_full": headroom / recent if recent else None,
        "queue": {"queued": queue.get("queued", 0), "running": queue.get("running", 0),
                  "failed": queue.get("failed", 0)},
        "oldest_camshot_at": oldest_shot,
        "oldest_attempt": {"id": oldest_attempt[0], "ended_at": oldest_attempt[1]} if oldest_attempt else None,
        "expired": plan(db, {"expired": True}, int(now), retention.default_days),
        "held": db.execute("SELECT count(*) FROM attempts WHERE legal_hold != 0").fetchone()[0],
        "last_retention_run": (db.execute("SELECT last_run_at FROM leases WHERE name = 'retention'").fetchone()
                               or [None])[0],
        "unfinished_purges": db.execute("SELECT count(*) FROM purge_runs WHERE state = 'running'").fetchone()[0],
        "student_hour": student_hour(db, config["scoring.default_interval_max"])["site"],
        "courses": usage(db, "course"),
        "quizzes": usage(db, "quiz")[:20],
    }


def usage(db, level):
    """Attempts, camshots and bytes per course or per quiz, largest first."""
    column = {"course": "course_id", "quiz": "quiz_id"}[level]
    rows = db.execute(
        f"SELECT a.{column}, max(a.course_name), max(a.quiz_name), max(a.course_id), count(DISTINCT a.id), "
        f"count(c.id), COALESCE(sum(c.bytes), 0) FROM attempts a LEFT JOIN camshots c ON c.attempt_id = a.id "
        f"GROUP BY a.{column} ORDER BY 7 DESC, 1"
    ).fetchall()
    return [{"id": r[0], "course_name": r[1], "quiz_name": r[2], "course_id": r[3], "attempts": r[4],
             "camshots": r[5], "bytes": r[6]} for r in rows]


def daily_growth(db, now):
    """Camshots and bytes received per UTC day over the last GROWTH_DAYS days, oldest first."""
    today = int(now // DAY)
    first = today - GROWTH_DAYS + 1
    found = {
        day: (count, size) for day, count, size in db.execute(
            f"SELECT {db.integer_part('received_at / 86400')} AS day, count(*), sum(bytes) FROM camshots "
            "WHERE received_at >= ? GROUP BY day", [first * DAY])
    }
    return [{"day": day * DAY, "camshots": found.get(day, (0, 0))[0], "bytes": found.get(day, (0, 0))[1]}
            for day in range(first, today + 1)]


def growth_chart(growth):
    """Bars of an inline SVG: geometry computed here so the template has no arithmetic."""
    width, height, gap = CHART["width"], CHART["height"], CHART["gap"]
    peak = max((day["bytes"] for day in growth), default=0) or 1
    step = width / len(growth)
    bars = []
    for index, day in enumerate(growth):
        bar_height = round(day["bytes"] / peak * (height - 4), 1) if day["bytes"] else 0
        bars.append({"x": round(index * step + gap / 2, 1), "y": round(height - bar_height, 1),
                     "width": round(step - gap, 1), "height": bar_height, "day": day["day"],
                     "bytes": day["bytes"], "camshots": day["camshots"]})
    return {"width": width, "height": height, "bars": bars, "peak": peak if peak > 1 else 0}


def usage_in_course(db, course_id):
    """Per quiz of one course: attempts, camshots, bytes and the oldest attempt's end."""
    rows = db.execute(
        "SELECT a.quiz_id, max(a.quiz_name), max(a.course_name), count(DISTINCT a.id), count(c.id), "
        "COALESCE(sum(c.bytes), 0), min(COALESCE(a.finished_at, a.started_at)) FROM attempts a "
        "LEFT JOIN camshots c ON c.attempt_id = a.id WHERE a.course_id = ? GROUP BY a.quiz_id ORDER BY 2, 1",
        [course_id],
    ).fetchall()
    return [{"id": r[0], "quiz_name": r[1], "course_name": r[2], "attempts": r[3], "camshots": r[4], "bytes": r[5],
             "oldest_ended_at": r[6]} for r in rows]
