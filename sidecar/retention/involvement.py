"""What the sidecar holds about a user in other students' attempts: the reviews they wrote as a teacher, and
the camshots in which the analysis recognised their face (mentions). A privacy request finds, exports and
deletes them quiz by quiz, beside the user's own attempts."""
from .. import attempts
from ..db import write_transaction

REVIEWS = """
SELECT a.quiz_id, r.attempt_id, r.conclusion, r.comment, r.reviewed_at
  FROM reviews r JOIN attempts a ON a.id = r.attempt_id
 WHERE r.reviewer_id = ?"""
MENTIONS = """
SELECT a.quiz_id, c.attempt_id, c.id, c.taken_at
  FROM camshots c JOIN attempts a ON a.id = c.attempt_id
 WHERE c.matched_user_id = ? AND a.user_id <> ?"""


def _in_quizzes(sql, params, quiz_ids, order):
    """The query narrowed to the quizzes (every quiz for None), in a stable order."""
    if quiz_ids is not None:
        if not quiz_ids:
            return sql + " AND 1 = 0", params
        sql += f" AND a.quiz_id IN ({','.join('?' * len(quiz_ids))})"
        params = [*params, *sorted(quiz_ids)]
    return sql + f" ORDER BY {order}", params


def involvement(db, user_id, quiz_ids=None):
    """The reviews the user wrote and the camshots that recognised them, in the quizzes (every quiz for None)."""
    sql, params = _in_quizzes(REVIEWS, [user_id], quiz_ids, "a.quiz_id, r.attempt_id")
    reviews = [{"quiz_id": q, "attempt_id": a, "conclusion": c, "comment": t, "reviewed_at": at}
               for q, a, c, t, at in db.execute(sql, params).fetchall()]
    sql, params = _in_quizzes(MENTIONS, [user_id, user_id], quiz_ids, "a.quiz_id, c.attempt_id, c.taken_at, c.id")
    mentions = [{"quiz_id": q, "attempt_id": a, "camshot_id": c, "taken_at": t}
                for q, a, c, t in db.execute(sql, params).fetchall()]
    return {"reviews": reviews, "mentions": mentions}


def quiz_people(db, quiz_id):
    """Who is involved in a quiz's attempts without being their student: the reviewers, the students recognised."""
    reviewers = db.execute(
        "SELECT DISTINCT r.reviewer_id FROM reviews r JOIN attempts a ON a.id = r.attempt_id "
        "WHERE a.quiz_id = ? AND r.reviewer_id IS NOT NULL ORDER BY r.reviewer_id", [quiz_id]).fetchall()
    mentioned = db.execute(
        "SELECT DISTINCT c.matched_user_id FROM camshots c JOIN attempts a ON a.id = c.attempt_id "
        "WHERE a.quiz_id = ? AND c.matched_user_id IS NOT NULL AND c.matched_user_id <> a.user_id "
        "ORDER BY c.matched_user_id", [quiz_id]).fetchall()
    return {"reviewer_ids": [r for (r,) in reviewers], "mentioned_user_ids": [m for (m,) in mentioned]}


def forget(db, config, user_id, quiz_ids=None):
    """Forget the user in other students' attempts at the quizzes (every quiz for None); returns the counts.

    The reviews they wrote lose the reviewer's id and name: the conclusion and the comment are about the
    student and stay with the attempt, which its student's own request or retention deletes. The camshots
    that recognised them no longer name them and their attempts are scored again: such a camshot keeps its
    status (a face that is not the student's, or several faces), so the evidence stays without saying whose
    face it was.
    """
    with write_transaction(db):
        found = involvement(db, user_id, quiz_ids)
        for review in found["reviews"]:
            db.execute("UPDATE reviews SET reviewer_id = NULL, reviewer_name = '' WHERE attempt_id = ?",
                       [review["attempt_id"]])
        for mention in found["mentions"]:
            db.execute("UPDATE camshots SET matched_user_id = NULL WHERE id = ?", [mention["camshot_id"]])
        for attempt_id in sorted({m["attempt_id"] for m in found["mentions"]}):
            attempts.recompute_score(db, config, attempt_id)
    return {"reviews": len(found["reviews"]), "mentions": len(found["mentions"])}
