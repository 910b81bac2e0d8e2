"""`proctorpy demo` loads six analysed attempts whose scores tell their scenes apart, from the photos that
come with the project."""
import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidecar.cli import cli
from sidecar.db import connect
from sidecar.demo import PHOTOS, STUDENTS

ROOT = Path(__file__).resolve().parents[1]


def provenance():
    """{file: (git blob, bytes)} of every photo PROVENANCE.md names."""
    rows = re.findall(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{12}) \| (\d+) \|$", (PHOTOS / "PROVENANCE.md").read_text(), re.M)
    return {name: (blob, int(size)) for name, blob, size in rows}


@pytest.mark.slow
def test_demo_loads_analysed_attempts(tmp_path, monkeypatch):
    # From somewhere else than the repository, without --photos: a clone alone has all the demo needs.
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "Demo midterm" in result.output
    db = connect(data_dir / "proctorpy.db")
    scores = {r[0]: (r[1], r[2]) for r in db.execute("SELECT attempt_id, value, flagged FROM scores")}
    pending = db.execute("SELECT count(*) FROM camshots WHERE status = 'pending'").fetchone()[0]
    substitutes = set(db.execute("SELECT attempt_id, matched_user_id FROM camshots WHERE matched_user_id IS NOT NULL"))
    no_face = db.execute("SELECT count(*) FROM camshots WHERE attempt_id = 90002 AND status = 'no_face'").fetchone()[0]
    db.close()
    assert pending == 0
    assert scores[90001] == (100.0, 0), "the honest attempt is clean"
    assert all(scores[a][1] for a in (90002, 90003, 90004, 90005, 90006)), scores
    assert (90004, 90003) in substitutes, "Kit sitting Rose's attempt is found as a substitution"
    assert no_face >= 4

    again = runner.invoke(cli, ["demo", "--data-dir", str(data_dir)])
    assert again.exit_code == 0
    db = connect(data_dir / "proctorpy.db")
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 6
    db.close()


def test_demo_without_photos_says_where_they_should_be(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(tmp_path / "d"), "--photos", str(tmp_path)])
    assert result.exit_code == 1
    assert "demo photos are not in" in result.output


def test_demo_photos_are_the_files_their_provenance_names():
    named = provenance()
    present = {str(f.relative_to(PHOTOS)) for f in PHOTOS.rglob("*") if f.is_file() and f.name != "PROVENANCE.md"}
    assert present == set(named), "every photo, and only those, has its source and licence in PROVENANCE.md"
    for name, (blob, size) in named.items():
        data = (PHOTOS / name).read_bytes()
        assert len(data) == size, name
        assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()[:12] == blob, f"{name} is not the file named"
    used = {profile for _user, _name, profile, _scene, _parts in STUDENTS}
    used |= {photo for *_rest, parts in STUDENTS for _minutes, photos in parts for photo in photos}
    assert used <= present, used - present


def test_an_installed_proctorpy_carries_the_demo_photos(tmp_path):
    """The wheel pip builds from the project holds every demo photo and their provenance."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("proctorpy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"sidecar/demo_photos/{name}" for name in provenance()} | {"sidecar/demo_photos/PROVENANCE.md"} <= names
