"""Time the sidecar could not take camshots: an outage the browser tells of is excused from camera off only where
the sidecar's own records agree, and a forged one excuses nothing."""
import pytest

from sidecar.attempts import recompute_score
from sidecar.db import connect, write_transaction
from sidecar.outages import spans
from sidecar.scoring import subtract

START = 1_000_000  # the attempts' start, unix seconds
GAP = (200, 400)  # seconds into attempt 1 with no camshot of it


@pytest.fixture
def db(app, api):
    """Attempt 1 (user 7) and attempt 2 (user 8) of one quiz, 600 s each, a camshot due every 60 s (30 + grace)."""
    for attempt_id, user_id in ((1, 7), (2, 8)):
        assert api.put_attempt(attempt_id, user_id=user_id, started_at=START, interval_min=20,
                               interval_max=30).status_code == 201
        assert api.json("POST", f"/api/v1/attempts/{attempt_id}/finish", {"finished_at": START + 600}).status_code == 200
    db = connect(app.config["DATABASE"])
    yield db
    db.close()


def add_camshot(db, attempt_id, second, received=None):
    """A camshot of an attempt taken `second` s into it, received then (or at `received`, seconds into it)."""
    received = second if received is None else received
    with write_transaction(db):
        db.execute(
            "INSERT INTO camshots (id, attempt_id, client_shot_id, kind, taken_at, received_at, path, bytes, width, "
            "height, sha256, status) VALUES (?, ?, ?, 'attempt', ?, ?, 'x', 1, 1, 1, '', 'ok')",
            [f"{attempt_id:04x}{second:016x}", attempt_id, f"s{second}", (START + second) * 1000, START + received],
        )


def add_event(db, attempt_id, second, kind, received):
    with write_transaction(db):
        db.execute("INSERT INTO events (attempt_id, type, at, client_event_id, received_at) VALUES (?, ?, ?, ?, ?)",
                   [attempt_id, kind, (START + second) * 1000, f"{kind}{second}", START + received])


def attempt_with_a_gap(db):
    """Attempt 1: a camshot every 30 s, none from 200 to 400 s."""
    for second in range(0, 600, 30):
        if not GAP[0] < second < GAP[1]:
            add_camshot(db, 1, second)


def claim(db, failed, back, received=None):
    """Attempt 1's browser says uploads failed from `failed` to `back` s; both events arrive late, at once."""
    received = back + 1 if received is None else received
    add_event(db, 1, failed, "upload_failed", received)
    add_event(db, 1, back, "upload_back", received)


def score(app, db):
    _, _, metrics = recompute_score(db, app.config["PROCTORPY"], 1)
    return metrics


def test_spans_pair_an_opening_with_the_next_closing_and_clip_them():
    events = [{"type": "upload_failed", "at": 5}, {"type": "upload_failed", "at": 7}, {"type": "upload_back", "at": 20},
              {"type": "upload_back", "at": 25}, {"type": "upload_failed", "at": 90}]
    assert spans(events, "upload_failed", "upload_back", 10, 100) == [(10, 20)]
    assert spans(events, "upload_failed", "upload_back", 0, 100, open_ends=True) == [(5, 20), (90, 100)]


def test_subtract_leaves_the_parts_outside_the_holes():
    assert subtract([(0, 100), (200, 300)], [(50, 60), (90, 250)]) == [(0, 50), (60, 90), (250, 300)]
    assert subtract([(0, 100)], []) == [(0, 100)]


@pytest.mark.engines
def test_without_a_claim_the_gap_is_camera_off(app, db):
    attempt_with_a_gap(db)
    metrics = score(app, db)
    # The camshot at 180 s stands until 240 s; 240 to 420 s is camera off.
    assert metrics["seconds"]["camera_off"] == 180
    assert metrics["outages"] == []


@pytest.mark.engines
def test_an_outage_the_sidecar_saw_is_not_camera_off(app, db):
    """The sidecar stored no camshot of anyone from 190 to 400 s: it was down. The camshots the browser queued
    were dropped, so only the claim explains the gap."""
    attempt_with_a_gap(db)
    claim(db, 190, 400)
    metrics = score(app, db)
    assert metrics["outages"] == [[(START + 190) * 1000, (START + 400) * 1000]]
    # Of 240 to 420 s without a camshot, only the 20 s after the outage's end count.
    assert metrics["seconds"]["camera_off"] == 20


@pytest.mark.engines
def test_a_forged_outage_while_classmates_camshots_arrive_excuses_nothing(app, db):
    """Attempt 1's student turned the camera away and sent an outage claim; the sidecar stored attempt 2's
    camshots every 20 s meanwhile, so it was taking camshots."""
    attempt_with_a_gap(db)
    for second in range(0, 600, 20):
        add_camshot(db, 2, second)
    claim(db, 190, 400)
    metrics = score(app, db)
    assert metrics["outages"] == []
    assert metrics["seconds"]["camera_off"] == 180


@pytest.mark.engines
def test_one_camshot_arriving_in_a_claim_cuts_the_grace_around_it(app, db):
    attempt_with_a_gap(db)
    add_camshot(db, 2, 300)
    claim(db, 190, 400)
    metrics = score(app, db)
    assert metrics["outages"] == [[(START + 190) * 1000, (START + 270) * 1000],
                                  [(START + 330) * 1000, (START + 400) * 1000]]
    assert metrics["seconds"]["camera_off"] == 60 + 20


@pytest.mark.engines
def test_camshots_arriving_late_from_the_queue_are_not_arrivals_inside_the_claim(app, db):
    """A genuine outage: the browser kept its camshots and sent them at 401 s, their taken_at in the gap."""
    attempt_with_a_gap(db)
    for second in range(210, 400, 30):
        add_camshot(db, 1, second, received=401)
    claim(db, 190, 400)
    metrics = score(app, db)
    assert metrics["outages"] == [[(START + 190) * 1000, (START + 400) * 1000]]
    assert metrics["seconds"]["camera_off"] == 0


@pytest.mark.engines
def test_an_outage_never_excuses_a_camera_the_browser_said_was_off(app, db):
    attempt_with_a_gap(db)
    add_event(db, 1, 250, "camera_lost", 401)
    add_event(db, 1, 330, "camera_back", 401)
    claim(db, 190, 400)
    metrics = score(app, db)
    assert metrics["outages"] == [[(START + 190) * 1000, (START + 250) * 1000],
                                  [(START + 330) * 1000, (START + 400) * 1000]]
    assert metrics["seconds"]["camera_off"] == 80 + 20


@pytest.mark.engines
@pytest.mark.parametrize("events", [
    [("upload_failed", 190)],  # no end: proves nothing
    [("upload_back", 400)],  # no start
    [("upload_failed", 395), ("upload_back", 400)],  # too short to check
    [("upload_back", 190), ("upload_failed", 400)],  # the wrong way round
])
def test_claims_that_prove_nothing_excuse_nothing(app, db, events):
    attempt_with_a_gap(db)
    for kind, second in events:
        add_event(db, 1, second, kind, 401)
    metrics = score(app, db)
    assert metrics["outages"] == []
    assert metrics["seconds"]["camera_off"] == 180


@pytest.mark.engines
def test_a_claim_beyond_the_attempt_is_cut_to_it(app, db):
    for second in range(0, 200, 30):
        add_camshot(db, 1, second)
    claim(db, 190, 900, received=600)
    metrics = score(app, db)
    assert metrics["outages"] == [[(START + 190) * 1000, (START + 600) * 1000]]
    assert metrics["seconds"]["camera_off"] == 0


def test_the_report_says_when_the_server_could_not_receive_camshots(app, api, db):
    attempt_with_a_gap(db)
    claim(db, 190, 400)
    recompute_score(db, app.config["PROCTORPY"], 1)
    html = api.get("/api/v1/attempts/1/report?tz=UTC").get_data(as_text=True)
    assert "The server could not receive camshots from 13:49:50 to 13:53:20 (3 min 30 s)" in html
    assert "Uploads back" in html
