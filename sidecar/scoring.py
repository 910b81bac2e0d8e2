"""The credibility score of an attempt: E = max(0, 100 - sum_k W_k * X_k).

X_k is the percentage of the attempt's duration during which metric k was in violation.
A camshot stands for the time until the next one, but for at most the interval in which
the next one was due (the quiz's interval_max plus a grace); time beyond that with no
camshot is camera_off. Focus-lost and tab-hidden intervals come from the browser events.

Time the sidecar could not take camshots (outages.py says which, from its own records) is not the
student's doing: it is never camera_off.

A change of the student's profile photo recorded for the attempt (reference_changes.py) flags it
whatever its score: the reference it was judged against may not be the student's face.

Pure: the attempt's rows come in as arguments (attempts.recompute_score reads and stores them); the
clock is read only to bound an unfinished attempt when the caller does not say what now is.
"""
import time
from dataclasses import dataclass, field

METRICS = ("no_face", "multiple_faces", "mismatch", "substitution", "camera_off", "focus_lost")

# Events that open and close an interval in which the quiz page was not in front of the student.
# Blur and tab hiding are tracked apart because a tab switch usually fires both.
FOCUS_PAIRS = {
    "focus_lost": ("focus", True), "focus_back": ("focus", False),
    "tab_hidden": ("tab", True), "tab_visible": ("tab", False),
}


@dataclass
class Timeline:
    """An attempt's span in unix milliseconds and, per metric, its violation intervals."""

    start: int
    end: int
    intervals: dict = field(default_factory=lambda: {m: [] for m in METRICS})

    @property
    def duration_ms(self):
        return max(0, self.end - self.start)


def attempt_span(attempt, shots, events, now):
    """Start and end in ms: started_at to finished_at, or, while unfinished, to the last camshot or event
    but never past now (unix seconds): a time no browser could have sent cannot stretch the attempt."""
    start = attempt["started_at"] * 1000
    if attempt["finished_at"] is not None:
        end = attempt["finished_at"] * 1000
    else:
        end = min(max([start] + [s["taken_at"] for s in shots] + [e["at"] for e in events]), int(now * 1000))
    return start, max(start, end)


def shot_metric(shot):
    """The metric a camshot's verdict puts in violation, or None."""
    if shot.get("matched_user_id") is not None:
        return "substitution"
    return {"no_face": "no_face", "multiple_faces": "multiple_faces", "mismatch": "mismatch"}.get(shot["status"])


def build_timeline(attempt, shots, events, due_ms, now=None, outages=()):
    """Violation intervals of one attempt; shots and events sorted by time; now (unix seconds) bounds an
    unfinished attempt, the sidecar's clock unless given; outages (unix ms spans) are excused from camera_off.

    Only camshots of kind attempt cover time: the identity photo is taken before the quiz opens.
    """
    start, end = attempt_span(attempt, shots, events, time.time() if now is None else now)
    timeline = Timeline(start, end)
    covered = start + due_ms  # the first camshot is due within one interval of the start
    attempt_shots = [s for s in shots if s["kind"] == "attempt"]
    for index, shot in enumerate(attempt_shots):
        taken = min(max(shot["taken_at"], start), end)
        _add(timeline, "camera_off", covered, taken)
        following = attempt_shots[index + 1]["taken_at"] if index + 1 < len(attempt_shots) else end
        stands_until = min(max(following, taken), taken + due_ms)
        metric = shot_metric(shot)
        if metric:
            _add(timeline, metric, taken, stands_until)
        covered = stands_until
    _add(timeline, "camera_off", covered, end)
    timeline.intervals["camera_off"] = subtract(timeline.intervals["camera_off"], outages)
    timeline.intervals["focus_lost"] = focus_intervals(events, start, end)
    return timeline


def _add(timeline, metric, a, b):
    a, b = max(a, timeline.start), min(b, timeline.end)
    if b > a:
        timeline.intervals[metric].append((a, b))


def focus_intervals(events, start, end):
    """Intervals during which the page was blurred or its tab hidden; an open one runs to the end."""
    away = {"focus": False, "tab": False}
    intervals, opened = [], None
    for event in events:
        pair = FOCUS_PAIRS.get(event["type"])
        if pair is None:
            continue
        kind, lost = pair
        was_away = any(away.values())
        away[kind] = lost
        now_away = any(away.values())
        at = min(max(event["at"], start), end)
        if now_away and not was_away:
            opened = at
        elif was_away and not now_away:
            if at > opened:
                intervals.append((opened, at))
            opened = None
    if opened is not None and end > opened:
        intervals.append((opened, end))
    return intervals


def subtract(intervals, holes):
    """The parts of intervals outside every hole."""
    for ha, hb in holes:
        kept = []
        for a, b in intervals:
            if hb <= a or ha >= b:
                kept.append((a, b))
                continue
            if a < ha:
                kept.append((a, ha))
            if hb < b:
                kept.append((hb, b))
        intervals = kept
    return intervals


def union_length(intervals):
    """Total length covered by possibly overlapping intervals."""
    total, reach = 0, None
    for a, b in sorted(intervals):
        if reach is None or a > reach:
            total += b - a
            reach = b
        elif b > reach:
            total += b - reach
            reach = b
    return total


def scoring_settings(attempt, config):
    """Weights, threshold and due interval: the quiz's snapshot first, the sidecar's config second."""
    settings = attempt["settings"] or {}
    weights = {m: float(config[f"scoring.weight_{m}"]) for m in METRICS}
    weights.update({m: float(w) for m, w in (settings.get("weights") or {}).items() if m in weights})
    threshold = float(settings.get("threshold", config["scoring.threshold"]))
    interval_max = settings.get("interval_max") or config["scoring.default_interval_max"]
    due_ms = (interval_max + config["scoring.camera_grace"]) * 1000
    return weights, threshold, due_ms


def compute_score(timeline, weights, threshold, min_duration):
    """(value, flagged, metrics) for a timeline; value is None under min_duration seconds."""
    duration = timeline.duration_ms / 1000
    seconds = {m: union_length(timeline.intervals[m]) / 1000 for m in METRICS}
    percent = {m: (100 * seconds[m] / duration if duration else 0.0) for m in METRICS}
    metrics = {
        "duration_seconds": round(duration, 3),
        "seconds": {m: round(v, 3) for m, v in seconds.items()},
        "percent": {m: round(v, 2) for m, v in percent.items()},
        "weights": weights,
        "threshold": threshold,
    }
    if duration < min_duration:
        metrics["reason"] = (
            f"The attempt lasted {duration:.0f} s, under the {min_duration} s needed for a meaningful score."
        )
        metrics["formula"] = None
        return None, False, metrics
    penalty = sum(weights[m] * percent[m] for m in METRICS)
    value = round(max(0.0, 100 - penalty), 1)
    terms = " + ".join(f"{_num(weights[m])} × {percent[m]:.1f} % {m}" for m in METRICS)
    metrics["reason"] = None
    metrics["formula"] = f"E = max(0, 100 − ({terms})) = max(0, 100 − {penalty:.1f}) = {value:.1f}"
    return value, value < threshold, metrics


def _num(weight):
    return f"{weight:g}"


def score_attempt(attempt, shots, events, config, now=None, reference_changes=(), outages=()):
    """(value, flagged, metrics, timeline) of an attempt from its rows; no database. now bounds an unfinished
    attempt (build_timeline); reference_changes are the profile photo changes recorded for it; outages the
    spans in which the sidecar could not take its camshots (outages.excused)."""
    weights, threshold, due_ms = scoring_settings(attempt, config)
    timeline = build_timeline(attempt, shots, events, due_ms, now, outages)
    value, flagged, metrics = compute_score(timeline, weights, threshold, config["scoring.min_duration"])
    metrics["outages"] = [list(span) for span in outages]
    metrics["reference_changes"] = sorted({change["kind"] for change in reference_changes})
    flagged = flagged or bool(reference_changes)
    attempt_shots = [s for s in shots if s["kind"] == "attempt"]
    metrics["shots"] = len(attempt_shots)
    metrics["pending"] = sum(1 for s in attempt_shots if s["status"] == "pending")
    metrics["unreadable"] = sum(1 for s in attempt_shots if s["status"] == "unreadable")
    metrics["events"] = len(events)
    metrics["final"] = attempt["finished_at"] is not None and metrics["pending"] == 0
    return value, flagged, metrics, timeline
