"""Changes of a student's profile photo, as problems of their attempts.

A student could set an accomplice's face as their profile picture before an attempt and restore
their own after it. Each new profile photo is compared with the one it replaces: another person
(face distance over analysis.match_threshold) is a problem of the attempts running when it
arrives, and any change up to identity.recent_change_days before an attempt, or during it, a
problem of that attempt; each flags the attempt.
"""

DAY = 86400
LABELS = {
    "another_person": "Profile photo changed to another person",
    "recent_change": "Profile photo changed shortly before the attempt",
}


def kind(config, distance):
    """What a change of this face distance is: another person, or a recent change of the same one."""
    return "another_person" if distance > config["analysis.match_threshold"] else "recent_change"


def record(db, attempt_id, photo_id, change_kind, distance, changed_at, now):
    """Record a change as a problem of the attempt, once per photo (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO reference_changes (attempt_id, photo_id, kind, distance, changed_at, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (attempt_id, photo_id) DO NOTHING",
        [attempt_id, photo_id, change_kind, distance, changed_at, now],
    )


def record_during_attempts(db, config, user_id, photo, now):
    """A new profile photo arrived while the user's attempts run (Moodle sends it as an attempt starts): another
    person is a problem of each, a change of the same person when it is recent (recent); their ids."""
    running = db.execute("SELECT id, started_at FROM attempts WHERE user_id = ? AND finished_at IS NULL",
                         [user_id]).fetchall()
    changed = []
    for attempt_id, started_at in running:
        change_kind = kind(config, photo["change_distance"])
        if change_kind == "another_person" or recent(config, photo["changed_at"], started_at):
            record(db, attempt_id, photo["id"], change_kind, photo["change_distance"], photo["changed_at"], now)
            changed.append(attempt_id)
    return changed


def record_at_freeze(db, config, attempt, profile, now):
    """The profile photo frozen with an attempt is a problem of it when it changed the face on record
    recently (inside the freezing transaction)."""
    if profile is None or profile["change_distance"] is None or profile["changed_at"] is None:
        return
    if recent(config, profile["changed_at"], attempt["started_at"]):
        record(db, attempt["id"], profile["id"], kind(config, profile["change_distance"]),
               profile["change_distance"], profile["changed_at"], now)


def recent(config, changed_at, started_at):
    """Whether a change at changed_at lies within identity.recent_change_days before an attempt's start, or after."""
    return changed_at >= started_at - config["identity.recent_change_days"] * DAY


def problems(db, attempt_id):
    """The attempt's recorded reference changes, oldest first: kind, label, distance, changed_at."""
    return [
        {"kind": row[0], "label": LABELS[row[0]], "distance": row[1], "changed_at": row[2]}
        for row in db.execute(
            "SELECT kind, distance, changed_at FROM reference_changes WHERE attempt_id = ? ORDER BY changed_at",
            [attempt_id])
    ]
