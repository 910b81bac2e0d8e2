"""The plugin's own PHPUnit suite, run by Moodle's PHPUnit inside a real Moodle, against a live sidecar."""
import re

# Tests of the suite when it was last counted: fewer means a test file stopped being found or run.
MIN_TESTS = 201

SUMMARY = re.compile(r"^OK \((\d+) tests?, (\d+) assertions?\)$", re.M)


def test_plugin_suite_passes_in_moodle(moodle_phpunit, live_sidecar):
    code, output = moodle_phpunit.run_phpunit(env={
        "PROCTORPY_TEST_SIDECAR_URL": live_sidecar.url,
        "PROCTORPY_TEST_SIDECAR_SECRET": live_sidecar.secret,
    })
    assert code == 0, output
    # PHPUnit says "OK (n tests, m assertions)" only when nothing was skipped, incomplete or risky.
    summary = SUMMARY.search(output)
    assert summary, output
    for word in ("Skipped", "Incomplete", "Risky", "Warnings", "Deprecations"):
        assert word not in output, output
    assert int(summary.group(1)) >= MIN_TESTS, output
