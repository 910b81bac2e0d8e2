"""Bytes per student-hour: from stored camshots and each quiz's capture interval, on the dashboard."""

import pytest

from conftest import face_bytes, post_identity
from sidecar.console.views import size_filter
from sidecar.db import connect
from sidecar.sizing import shots_per_hour, student_hour
from test_console import console  # noqa: F401  (fixture: a signed-in console client)


@pytest.mark.parametrize("low, high, expected", [(30, 90, 60), (20, 40, 120), (60, 60, 60), (5, 5, 720)])
def test_shots_per_hour_at_a_random_interval(low, high, expected):
    assert shots_per_hour(low, high) == pytest.approx(expected)


def stored_bytes(app, attempt_ids):
    db = connect(app.config["DATABASE"])
    try:
        marks = ",".join("?" * len(attempt_ids))
        return [r[0] for r in db.execute(
            f"SELECT bytes FROM camshots WHERE kind = 'attempt' AND attempt_id IN ({marks})", attempt_ids)]
    finally:
        db.close()


@pytest.fixture
def stored(api):
    """Quiz 11 at 20-40 s (two attempts), quiz 12 at 60-120 s (one), real face frames; one identity photo."""
    frames = [face_bytes(f"obama/{name}", width=320, fmt="JPEG") for name in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
    for attempt_id, quiz_id, low, high in [(1, 11, 20, 40), (2, 11, 20, 40), (3, 12, 60, 120)]:
        assert api.put_attempt(attempt_id, quiz_id=quiz_id, interval_min=low, interval_max=high).status_code == 201
        for frame in frames[:attempt_id]:
            assert api.post_camshot(frame, attempt_id=attempt_id, content_type="image/jpeg").status_code == 201
    assert post_identity(api, "obama/obama1.jpg", client_shot_id="identity").status_code == 200


@pytest.mark.engines
def test_bytes_per_student_hour_per_quiz_and_site(app, stored):
    db = connect(app.config["DATABASE"])
    try:
        figures = student_hour(db, 90)
    finally:
        db.close()
    quiz11, quiz12 = figures["quizzes"]
    mean11 = sum(stored_bytes(app, [1, 2])) / 3
    mean12 = sum(stored_bytes(app, [3])) / 3
    assert (quiz11["quiz_id"], quiz11["attempts"], quiz11["camshots"]) == (11, 2, 3)
    assert quiz11["camshot_bytes"] == pytest.approx(mean11)
    assert quiz11["bytes_per_student_hour"] == pytest.approx(mean11 * 120)
    assert quiz12["bytes_per_student_hour"] == pytest.approx(mean12 * 40)
    site = figures["site"]
    assert (site["attempts"], site["camshots"]) == (3, 6)
    assert site["bytes_per_student_hour"] == pytest.approx((2 * mean11 * 120 + mean12 * 40) / 3)
    # A 320x240 camshot is tens of kilobytes, so an hour at 20-40 s is a few megabytes.
    assert 1_000_000 < quiz11["bytes_per_student_hour"] < 10_000_000


@pytest.mark.engines
def test_attempts_without_an_interval_use_the_default(app, api):
    assert api.put_attempt(1, interval_min=None, interval_max=None).status_code == 201
    assert api.post_camshot(face_bytes("biden/biden.jpg", width=320, fmt="JPEG"), content_type="image/jpeg").status_code == 201
    db = connect(app.config["DATABASE"])
    try:
        quiz = student_hour(db, 90)["quizzes"][0]
    finally:
        db.close()
    assert quiz["interval"] == (90, 90) and quiz["shots_per_hour"] == pytest.approx(40)


@pytest.mark.engines
def test_nothing_stored_has_no_site_figure(app):
    db = connect(app.config["DATABASE"])
    try:
        assert student_hour(db, 90) == {"site": None, "quizzes": []}
    finally:
        db.close()


@pytest.mark.engines
def test_dashboard_shows_bytes_per_student_hour(app, console, stored):  # noqa: F811
    db = connect(app.config["DATABASE"])
    try:
        site = student_hour(db, 90)["site"]
    finally:
        db.close()
    page = console.get("/console/").get_data(as_text=True)
    assert "Per student-hour" in page
    assert size_filter(site["bytes_per_student_hour"]) in page
    assert "over 6 camshots of 3 attempts" in page


def test_dashboard_before_any_camshot(console):  # noqa: F811
    page = console.get("/console/").get_data(as_text=True)
    assert "Per student-hour" in page and "No camshots yet." in page
