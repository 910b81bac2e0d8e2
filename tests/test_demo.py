"""`proctorpy demo` loads six analysed attempts whose scores tell their scenes apart."""
import pytest
from click.testing import CliRunner

from conftest import FACES
from sidecar.cli import cli
from sidecar.db import connect


@pytest.mark.slow
def test_demo_loads_analysed_attempts(tmp_path):
    data_dir = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--data-dir", str(data_dir), "--photos", str(FACES)])
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

    again = runner.invoke(cli, ["demo", "--data-dir", str(data_dir), "--photos", str(FACES)])
    assert again.exit_code == 0
    db = connect(data_dir / "proctorpy.db")
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 6
    db.close()


def test_demo_without_photos_says_where_they_should_be(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(tmp_path / "d"), "--photos", str(tmp_path)])
    assert result.exit_code == 1
    assert "demo photos are not in" in result.output
