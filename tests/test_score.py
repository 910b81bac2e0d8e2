"""The credibility score: the formula on hand-computed cases, and when it is recomputed."""
import json

import pytest

from sidecar.attempts import recompute_score
from sidecar.config import load_config
from sidecar.db import connect, write_transaction
from sidecar.scoring import (
    METRICS, build_timeline, compute_score, focus_intervals, score_attempt, union_length,
)

ZERO = {m: 0.0 for m in METRICS}


def scoring_config(**overrides):
    return load_config(environ={}, overrides={"scoring.camera_grace": 30, **overrides})


def attempt(started=0, finished=300, **settings):
    return {"id": 1, "started_at": started, "finished_at": finished, "settings": settings}


def shot(second, status="ok", kind="attempt", matched=None):
    return {"taken_at": second * 1000, "status": status, "kind": kind, "matched_user_id": matched}


def event(second, kind):
    return {"type": kind, "at": second * 1000}


def every(start, stop, step, status="ok"):
    return [shot(s, status) for s in range(start, stop, step)]


def test_worked_example_of_the_issue():
    """300 s; three metrics each in violation 60 s (X = 20 %); weights 1.5, 1, 0.5: E = 40."""
    shots = [shot(0, "multiple_faces"), shot(30, "multiple_faces"), shot(60, "no_face"), shot(90, "no_face")]
    shots += every(120, 300, 30)
    events = [event(150, "focus_lost"), event(210, "focus_back")]
    weights = {**ZERO, "multiple_faces": 1.5, "no_face": 1, "focus_lost": 0.5}
    value, flagged, metrics, _ = score_attempt(
        attempt(interval_max=30, weights=weights, threshold=50), shots, events, scoring_config()
    )
    assert metrics["seconds"] == {**ZERO, "multiple_faces": 60, "no_face": 60, "focus_lost": 60}
    assert metrics["percent"]["multiple_faces"] == metrics["percent"]["no_face"] == 20.0
    assert value == 40.0
    assert flagged is True
    assert metrics["formula"].endswith("= max(0, 100 − 60.0) = 40.0")
    assert "1.5 × 20.0 % multiple_faces" in metrics["formula"]


def test_a_clean_attempt_scores_100_and_is_not_flagged():
    value, flagged, metrics, _ = score_attempt(attempt(interval_max=30), every(0, 300, 30), [], scoring_config())
    assert value == 100.0 and flagged is False
    assert all(v == 0 for v in metrics["seconds"].values())
    assert metrics["final"] is True and metrics["shots"] == 10


def test_camera_off_counts_only_time_beyond_the_due_interval():
    # interval_max 30 + grace 30: a shot is due within 60 s. Shots at 0 and 200 in a 300 s attempt:
    # 0..60 covered, 60..200 camera off (140 s), 200..260 covered, 260..300 camera off (40 s).
    timeline = build_timeline(attempt(), [shot(0), shot(200)], [], due_ms=60_000)
    assert timeline.intervals["camera_off"] == [(60_000, 200_000), (260_000, 300_000)]
    value, _, metrics = compute_score(timeline, {**ZERO, "camera_off": 1.0}, 70, 60)
    assert metrics["seconds"]["camera_off"] == 180
    assert value == 40.0


def test_no_camshot_at_all_is_camera_off_after_the_first_due_interval():
    timeline = build_timeline(attempt(finished=600), [], [], due_ms=60_000)
    assert timeline.intervals["camera_off"] == [(60_000, 600_000)]


def test_a_violation_stands_at_most_for_the_due_interval():
    # A no-face shot at 0 and the next at 200: the verdict covers 60 s, the rest is camera off.
    timeline = build_timeline(attempt(finished=200), [shot(0, "no_face"), shot(200)], [], due_ms=60_000)
    assert timeline.intervals["no_face"] == [(0, 60_000)]
    assert timeline.intervals["camera_off"] == [(60_000, 200_000)]


def test_identity_shots_do_not_cover_attempt_time():
    timeline = build_timeline(attempt(finished=100), [shot(0, "no_face", kind="identity")], [], due_ms=60_000)
    assert timeline.intervals["no_face"] == []
    assert timeline.intervals["camera_off"] == [(60_000, 100_000)]


def test_another_students_face_is_substitution_not_mismatch():
    timeline = build_timeline(
        attempt(finished=90), [shot(0, "mismatch", matched=8), shot(30, "mismatch"), shot(60)], [], due_ms=60_000
    )
    assert timeline.intervals["substitution"] == [(0, 30_000)]
    assert timeline.intervals["mismatch"] == [(30_000, 60_000)]


@pytest.mark.parametrize("events, expected", [
    ([event(10, "focus_lost"), event(20, "focus_back")], [(10_000, 20_000)]),
    # An open interval runs to the end of the attempt.
    ([event(250, "tab_hidden")], [(250_000, 300_000)]),
    # A tab switch fires both; the page is back only when both are back.
    ([event(10, "tab_hidden"), event(10, "focus_lost"), event(30, "tab_visible"), event(40, "focus_back")],
     [(10_000, 40_000)]),
    # A stray "back" without a "lost" opens nothing.
    ([event(5, "focus_back"), event(50, "camera_lost")], []),
    # Events before the start are clipped to it.
    ([event(-20, "focus_lost"), event(20, "focus_back")], [(0, 20_000)]),
])
def test_focus_intervals(events, expected):
    assert focus_intervals(events, 0, 300_000) == expected


def test_union_length_counts_overlaps_once():
    assert union_length([(0, 10), (5, 20), (30, 40), (35, 36)]) == 30


def test_an_attempt_under_the_minimum_duration_gets_no_score():
    value, flagged, metrics, _ = score_attempt(attempt(finished=45), [shot(0, "no_face")], [], scoring_config())
    assert value is None and flagged is False
    assert "45 s" in metrics["reason"] and "60 s" in metrics["reason"]
    assert metrics["formula"] is None


def test_an_unfinished_attempt_ends_at_its_last_camshot_or_event():
    value, _, metrics, timeline = score_attempt(
        attempt(finished=None, interval_max=30), every(0, 121, 30), [event(150, "focus_lost")], scoring_config()
    )
    assert timeline.end == 150_000
    assert metrics["duration_seconds"] == 150
    assert metrics["final"] is False


def test_weights_and_threshold_fall_back_to_the_config():
    config = scoring_config(**{"scoring.weight_no_face": 2.0, "scoring.threshold": 90.0})
    shots = [shot(0, "no_face")] + every(30, 300, 30)
    value, flagged, metrics, _ = score_attempt(attempt(interval_max=30), shots, [], config)
    assert metrics["weights"]["no_face"] == 2.0 and metrics["threshold"] == 90.0
    assert value == 80.0 and flagged is True  # 30 s of 300 = 10 %, times 2
    # The quiz's snapshot wins over the config.
    value, flagged, metrics, _ = score_attempt(
        attempt(interval_max=30, weights={"no_face": 0.5}, threshold=50), shots, [], config
    )
    assert value == 95.0 and flagged is False


def test_the_score_never_goes_below_zero():
    shots = every(0, 300, 30, "mismatch")
    value, flagged, metrics, _ = score_attempt(attempt(interval_max=30), shots, [], scoring_config())
    assert value == 0.0 and flagged is True
    assert metrics["percent"]["mismatch"] == 100.0


def read_score(app, attempt_id=1):
    db = connect(app.config["DATABASE"])
    try:
        row = db.execute("SELECT value, flagged, metrics FROM scores WHERE attempt_id = ?", [attempt_id]).fetchone()
    finally:
        db.close()
    return row and (row[0], bool(row[1]), json.loads(row[2]))


@pytest.mark.engines
def test_events_and_finish_recompute_the_stored_score(app, api):
    api.put_attempt(1, started_at=1_000_000, interval_max=30, weights={"focus_lost": 1.0})
    ms = 1_000_000 * 1000
    db = connect(app.config["DATABASE"])
    try:
        for second in range(0, 300, 30):
            db.execute(
                "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, "
                "width, height, sha256, status) VALUES (?, 1, ?, 'attempt', ?, 0, 'x', 1, 1, 1, '', 'ok')",
                [f"{second:020x}", f"s{second}", ms + second * 1000],
            )
    finally:
        db.close()
    event = {"attempt_id": 1, "user_id": 7, "type": "focus_lost", "at": ms + 240_000, "client_event_id": "e1"}
    assert api.json("POST", "/api/v1/events", event).status_code == 201
    value, flagged, metrics = read_score(app)
    # Unfinished: the attempt so far ends at its last camshot (270 s); the open interval runs to it.
    assert metrics["final"] is False and metrics["seconds"]["focus_lost"] == 30
    assert api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": 1_000_300}).status_code == 200
    value, flagged, metrics = read_score(app)
    assert metrics["seconds"]["focus_lost"] == 60 and metrics["duration_seconds"] == 300
    assert value == 80.0 and flagged is False
    assert api.get("/api/v1/attempts/1").json["score"]["value"] == 80.0


@pytest.mark.engines
def test_new_settings_recompute_the_score(app, api):
    api.put_attempt(1, started_at=1_000_000, interval_max=30)
    api.json("POST", "/api/v1/attempts/1/finish", {"finished_at": 1_000_300})
    before = read_score(app)
    assert before[2]["weights"]["camera_off"] == 1.0
    api.put_attempt(1, started_at=1_000_000, interval_max=30, weights={"camera_off": 0.5})
    after = read_score(app)
    assert after[2]["weights"]["camera_off"] == 0.5 and after[0] > before[0]


@pytest.mark.engines
def test_recompute_joins_the_callers_transaction(app, api):
    api.put_attempt(1, started_at=1_000_000)
    db = connect(app.config["DATABASE"])
    try:
        assert recompute_score(db, scoring_config(), 404) is None
        with pytest.raises(RuntimeError), write_transaction(db):
            db.execute("UPDATE attempts SET finished_at = 1000100 WHERE id = 1")
            recompute_score(db, scoring_config(), 1)
            assert db.in_transaction
            raise RuntimeError("the caller's work fails")
        # Rolled back with the caller's work: no score row was left behind.
        assert db.execute("SELECT count(*) FROM scores WHERE attempt_id = 1").fetchone()[0] == 0
    finally:
        db.close()
