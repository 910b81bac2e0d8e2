"""Copy the teacher guide's screenshots of Moodle's pages from the teacher journeys' run.

The journeys (tests/test_moodle_teacher.py) take them in a real Moodle, in headless Chromium at 1280 px
wide, into build/moodle-journeys/ as NN-<name>.png (NN: their order in the run); this copies the ones docs/teacher-guide.md shows into
docs/screenshots/ under the names the guide uses. Run the journeys first:

    .venv/bin/pytest -q tests/test_moodle_teacher.py
    .venv/bin/python docs/moodle_screenshots.py
"""
import re
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
JOURNEYS = DOCS.parent / "build" / "moodle-journeys"
OUT = DOCS / "screenshots"
# (the journeys' name, the guide's name)
SHOTS = [
    ("teacher-quiz-settings", "moodle-quiz-settings"),
    ("teacher-overview-1280-course-index", "moodle-overview"),
    ("teacher-overview-flagged", "moodle-overview-flagged"),
    ("teacher-report-student2", "moodle-report-another-student"),
    ("teacher-report-student3", "moodle-report-honest"),
    ("teacher-review-student2-rejected", "moodle-review"),
    ("teacher-live-view", "moodle-live-view"),
    ("teacher-live-view-identity-waiting", "moodle-live-view-identity-waiting"),
]


def taken(name):
    """The journeys' screenshot of this name, or None."""
    found = [path for path in JOURNEYS.glob(f"*-{name}.png") if re.fullmatch(rf"\d+-{re.escape(name)}\.png", path.name)]
    return max(found, key=lambda path: int(path.name.split("-", 1)[0])) if found else None


def main():
    missing = [name for name, _ in SHOTS if taken(name) is None]
    if missing:
        raise SystemExit(f"not in {JOURNEYS}: {', '.join(missing)}; run tests/test_moodle_teacher.py first")
    OUT.mkdir(exist_ok=True)
    for name, guide_name in SHOTS:
        shutil.copyfile(taken(name), OUT / f"{guide_name}.png")
    print(f"{len(SHOTS)} screenshots copied to {OUT}")


if __name__ == "__main__":
    main()
