"""Disk sizing: bytes per student-hour, from the stored camshots and each quiz's capture interval."""

SECONDS_PER_HOUR = 3600


def shots_per_hour(interval_min, interval_max):
    """Camshots an hour when each comes after a random interval between min and max seconds."""
    return SECONDS_PER_HOUR * 2 / (interval_min + interval_max)


def student_hour(db, default_interval_max):
    """Bytes one student's attempt adds per hour: mean camshot bytes x shots per hour.

    Per quiz, at the capture interval of its attempts' settings (default_interval_max for both
    ends when they say nothing); site-wide, the quizzes' figures weighted by their attempts.
    Identity photos, one per attempt, are left out. None for the site when nothing is stored yet.
    """
    rows = db.execute(
        "SELECT a.quiz_id, max(a.quiz_name), max(a.course_name), count(DISTINCT a.id), count(c.id), avg(c.bytes), "
        "avg(json_extract(a.settings, '$.interval_min')), avg(json_extract(a.settings, '$.interval_max')) "
        "FROM camshots c JOIN attempts a ON a.id = c.attempt_id WHERE c.kind = 'attempt' "
        "GROUP BY a.quiz_id ORDER BY a.quiz_id"
    ).fetchall()
    quizzes = []
    for quiz_id, quiz_name, course_name, attempts, camshots, mean_bytes, low, high in rows:
        high = high or low or default_interval_max
        low = low or high
        per_hour = shots_per_hour(low, high)
        quizzes.append({"quiz_id": quiz_id, "quiz_name": quiz_name, "course_name": course_name, "attempts": attempts,
                        "camshots": camshots, "camshot_bytes": mean_bytes, "interval": (low, high),
                        "shots_per_hour": per_hour, "bytes_per_student_hour": mean_bytes * per_hour})
    attempts = sum(q["attempts"] for q in quizzes)
    if not attempts:
        return {"site": None, "quizzes": quizzes}

    def weighted(key):
        return sum(q[key] * q["attempts"] for q in quizzes) / attempts

    site = {"camshot_bytes": weighted("camshot_bytes"), "shots_per_hour": weighted("shots_per_hour"),
            "bytes_per_student_hour": weighted("bytes_per_student_hour"),
            "camshots": sum(q["camshots"] for q in quizzes), "attempts": attempts}
    return {"site": site, "quizzes": quizzes}
