"""Moodle's code checker (phpcs with the moodle-cs `moodle` standard) finds nothing in the plugin, with the
moodle-cs release Moodle 4.5's code checker was built on (3.4.11) and the one it ships today (3.5.2, which adds
PSR-12's layout to the `moodle` standard), in Moodle 4.5.6; and with 3.5.2 in Moodle 5.1.3, as 3.4.11 refuses a
5.1 tree ("not a valid moodle root").

The plugin is copied from the working tree into an unpacked Moodle, where moodle-cs can tell its
component from where it sits, and checked with Moodle's own tooling from ../shared/moodle/tooling.
A missing tool or PHP is a failure, never a skip: the check is part of what the plugin promises.
"""
import json
import shutil
import subprocess

import pytest

import moodle_site

RUN_PHPCS = moodle_site.TOOLING / "codechecker" / "run_phpcs.sh"
STANDARDS = {"3.4.11": moodle_site.TOOLING / "codechecker" / "moodle-cs-standards.tar.gz",
             "3.5.2": moodle_site.TOOLING / "codechecker" / "moodle-cs-standards-3.5.2.tar.gz"}
# What phpcs itself needs from PHP (run_phpcs.sh says so).
PHP_EXTENSIONS = ("tokenizer", "xmlwriter", "simplexml")


def require_tooling(moodle_cs):
    """Fail, saying what is missing, unless PHP and this release of the code checker are there."""
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is not on PATH: Moodle's code checker runs on php-cli (>= 7.4)", pytrace=False)
    for path in (RUN_PHPCS, STANDARDS[moodle_cs]):
        if not path.is_file():
            pytest.fail(f"Moodle's code checker is missing: no {path}", pytrace=False)
    check = "foreach ($argv as $i => $e) { if ($i && !extension_loaded($e)) { echo $e, ' '; } }"
    missing = subprocess.run([php, "-r", check, "--", *PHP_EXTENSIONS], capture_output=True, text=True,
                             timeout=60).stdout.split()
    if missing:
        pytest.fail(f"PHP lacks the extensions phpcs needs: {', '.join(missing)}", pytrace=False)


@pytest.mark.parametrize("moodle_release, moodle_cs", [("4.5.6", "3.4.11"), ("4.5.6", "3.5.2"), ("5.1.3", "3.5.2")],
                         indirect=["moodle_release"], scope="session")
def test_plugin_is_clean_under_moodle_codechecker(moodle_cs, moodle_release, moodle_code, tmp_path):
    require_tooling(moodle_cs)
    plugin = moodle_site.copy_plugin(moodle_code)
    report_file = tmp_path / "phpcs.json"
    result = subprocess.run(
        ["bash", str(RUN_PHPCS), "--moodle", str(moodle_code), moodle_site.plugin_path(moodle_code), "--standard",
         "moodle",
         "--moodle-cs", moodle_cs, "-q", "--report=json", f"--report-file={report_file}"],
        capture_output=True, text=True, timeout=600, env=moodle_site.tooling_env(moodle_release))
    ran = f"run_phpcs.sh exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    # phpcs exits 0 when clean, 1 or 2 when it found something; anything else means it did not check.
    assert result.returncode in (0, 1, 2) and report_file.is_file(), ran
    report = json.loads(report_file.read_text())

    files = report["files"]
    assert any(name.endswith("/settings.php") for name in files), f"phpcs did not check the plugin:\n{ran}"
    messages = []
    for name, found in sorted(files.items()):
        where = name[len(str(plugin)) + 1:] if name.startswith(f"{plugin}/") else name
        for m in sorted(found["messages"], key=lambda m: (m["line"], m["column"])):
            messages.append(f"{where}:{m['line']}: {m['type']}: {m['message']} ({m['source']})")
    totals = report["totals"]
    assert (totals["errors"], totals["warnings"]) == (0, 0), (
        f"{totals['errors']} errors and {totals['warnings']} warnings from Moodle's code checker:\n"
        + "\n".join(messages))
    assert result.returncode == 0, ran
