"""Time the sidecar could not take an attempt's camshots: excused, never scored as camera off.

The browser tells of an outage once it is over: upload_failed at its first failed try, upload_back at its
first success after it (the capture script's queue keeps the camshots taken meanwhile and sends them then,
with their own taken_at, so most of the time is covered by them anyway). What remains is time whose
camshots never arrived: the browser dropped them (its queue is bounded) or took none.

An examinee would love to claim an outage over a gap of their own making, and may send any events,
so a claim is believed only where the sidecar's own records agree with it:

- the sidecar stored no camshot in that time, of any attempt of any quiz: it was down, or refusing every
  camshot (its disk full, its image store unreachable). A student who cuts their own network, or holds
  their uploads back, while classmates' camshots keep arriving, is not excused;
- an arrival inside a claim shows the sidecar took uploads then: the camera grace on either side of it is
  not excused (classmates sending every minute leave nothing to excuse). Arrivals in the first and last
  seconds of a claim (CLOCK_TOLERANCE) are its edges: the last upload before the failure, the first after;
- the browser did not say that its camera was off (camera_lost to camera_back): an outage excuses
  camshots that could not be sent, never a camera that took none;
- it lies within the attempt.

The limit of this rule: on a sidecar that this one attempt alone uses, silence cannot tell a sidecar
that was down from a browser that held its uploads back; the report names every excused span, so the
teacher sees it.
"""

from .scoring import attempt_span, subtract

# How far apart the browser's times of a claim's edges and the sidecar's times of the uploads that made them may
# be: the browser's clock is the server's as of its page, give or take the time of a request.
CLOCK_TOLERANCE_MS = 5000

# Events of the browser that open and close a span: an outage claimed, and the camera off.
CLAIM = ("upload_failed", "upload_back")
CAMERA_OFF = ("camera_lost", "camera_back")


def spans(events, opening, closing, start, end, open_ends=False):
    """Spans from an opening event to the next closing one, clipped to [start, end]; one never closed runs to
    end when open_ends, else is dropped."""
    found, opened = [], None
    for event in events:
        if event["type"] == opening and opened is None:
            opened = event["at"]
        elif event["type"] == closing and opened is not None:
            found.append((max(opened, start), min(event["at"], end)))
            opened = None
    if opened is not None and open_ends:
        found.append((max(opened, start), end))
    return [(a, b) for a, b in found if b > a]


def arrivals(db, a_ms, b_ms):
    """When the sidecar stored a camshot, of any attempt, between two times; unix ms.

    Only attempts open then can have sent one: read through their camshots' index, not the whole table."""
    rows = db.execute(
        "SELECT received_at FROM camshots WHERE attempt_id IN (SELECT id FROM attempts WHERE started_at <= :b "
        "AND (finished_at IS NULL OR finished_at >= :a)) AND received_at BETWEEN :a AND :b",
        {"a": a_ms / 1000, "b": b_ms / 1000}).fetchall()
    return sorted(int(row[0] * 1000) for row in rows)


def excused(db, events, start, end, grace_ms):
    """The spans of an attempt (start to end, unix ms; events in time order) in which the sidecar could not
    take its camshots, as the module's rule allows: [(from, to)] in unix ms."""
    # A claim with no end proves nothing, nor one too short to check (the camera grace covers it anyway);
    # a camera never said to be back was off to the end.
    claimed = [(a, b) for a, b in spans(events, *CLAIM, start, end) if b - a > 2 * CLOCK_TOLERANCE_MS]
    believed = subtract(claimed, spans(events, *CAMERA_OFF, start, end, open_ends=True))
    for a, b in claimed:
        inside = arrivals(db, a + CLOCK_TOLERANCE_MS, b - CLOCK_TOLERANCE_MS)
        believed = subtract(believed, [(r - grace_ms, r + grace_ms) for r in inside])
    return believed


def of_attempt(db, config, attempt, shots, events, now):
    """The excused spans of an attempt from its rows; now (unix seconds) bounds it while unfinished."""
    start, end = attempt_span(attempt, shots, events, now)
    return excused(db, events, start, end, config["scoring.camera_grace"] * 1000)
