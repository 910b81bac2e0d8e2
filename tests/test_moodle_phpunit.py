"""The plugin's own PHPUnit suite, run by Moodle's PHPUnit inside a real Moodle, against a live sidecar: in Moodle 4.5.6
(PHPUnit 9.6) and in Moodle 5.1.3 (PHPUnit 11)."""
import re

import pytest

from conftest import challenge_frames
from sidecar.analysis.liveness import CHALLENGES

# Tests of the suite when it was last counted, in either release: fewer means a test file stopped being found or run.
MIN_TESTS = 220

SUMMARY = re.compile(r"^OK \((\d+) tests?, (\d+) assertions?\)$", re.M)


def write_challenge_frames(folder):
    """Frames of a student following each identity challenge, <folder>/<challenge>/<n>.jpg, made from a shared face
    photo as tests/test_liveness.py makes them: the sidecar draws the challenge, PHP sends the frames that follow it."""
    for challenge in CHALLENGES:
        (folder / challenge).mkdir(parents=True)
        for n, frame in enumerate(challenge_frames("obama/obama1.jpg", challenge)):
            (folder / challenge / f"{n}.jpg").write_bytes(frame)
    return folder


@pytest.mark.every_moodle
def test_plugin_suite_passes_in_moodle(moodle_phpunit, live_sidecar, tmp_path):
    code, output = moodle_phpunit.run_phpunit(env={
        "PROCTORPY_TEST_SIDECAR_URL": live_sidecar.url,
        "PROCTORPY_TEST_SIDECAR_SECRET": live_sidecar.secret,
        "PROCTORPY_TEST_FRAMES": str(write_challenge_frames(tmp_path / "frames")),
    })
    assert code == 0, output
    # PHPUnit says "OK (n tests, m assertions)" only when nothing was skipped, incomplete or risky.
    summary = SUMMARY.search(output)
    assert summary, output
    for word in ("Skipped", "Incomplete", "Risky", "Warnings", "Deprecations"):
        assert word not in output, output
    assert int(summary.group(1)) >= MIN_TESTS, output
