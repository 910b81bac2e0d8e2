"""The Moodle plugin's PHP: every file parses, and its signing client talks to a real sidecar.

The plugin's PHPUnit tests run inside Moodle: tests/test_moodle_phpunit.py."""
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import moodle_site
from conftest import FACES, face_bytes, free_port

PLUGIN = Path(__file__).resolve().parents[1] / "moodle_plugin" / "quizaccess_proctorpy"
PHP_FILES = sorted(p for p in PLUGIN.rglob("*.php") if "node_modules" not in p.parts)
CLIENT_CLI = PLUGIN / "tests" / "fixtures" / "client_cli.php"
VECTORS = Path(__file__).resolve().parent / "vectors" / "signing.json"


def test_plugin_has_php_files():
    names = {p.relative_to(PLUGIN).as_posix() for p in PHP_FILES}
    assert {"version.php", "rule.php", "settings.php", "lang/en/quizaccess_proctorpy.php",
            "classes/privacy/provider.php", "classes/signer.php"} <= names


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.relative_to(PLUGIN).as_posix())
def test_php_file_parses(path):
    result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_version_php_claims_exactly_the_moodle_releases_the_suite_runs():
    supported = re.search(r"\$plugin->supported = \[(\d+), (\d+)\];", (PLUGIN / "version.php").read_text())
    assert supported, "version.php has no $plugin->supported range"
    branches = sorted(int(release.branch) for release in moodle_site.RELEASES.values())
    assert [int(supported.group(1)), int(supported.group(2))] == [branches[0], branches[-1]]


def test_plugin_tests_use_the_shared_signing_vectors():
    # The plugin's PHPUnit tests run inside Moodle, where the repository is not at hand: they read a copy.
    copy = PLUGIN / "tests" / "fixtures" / "signing.json"
    assert copy.read_bytes() == VECTORS.read_bytes(), f"{copy} differs from {VECTORS}: copy it again"


def run_client(url, secret, action, *extra):
    result = subprocess.run(["php", str(CLIENT_CLI), url, secret, action, *map(str, extra)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_connection_check_ok(live_sidecar):
    result = run_client(live_sidecar.url, live_sidecar.secret, "check")
    assert result["problem"] == "ok", result
    assert result["details"]["api"] == "v1"


def test_connection_check_names_a_wrong_secret(live_sidecar):
    result = run_client(live_sidecar.url, live_sidecar.secret + "-wrong", "check")
    assert result["problem"] == "badsecret", result


def test_connection_check_names_an_unreachable_sidecar():
    result = run_client(f"http://127.0.0.1:{free_port()}", "whatever", "check")
    assert result["problem"] == "unreachable", result


def test_connection_check_names_a_non_sidecar(live_sidecar):
    # The console's path answers, but it is not the sidecar's health endpoint.
    result = run_client(live_sidecar.url + "/api/v1/nothing-here", live_sidecar.secret, "check")
    assert result["problem"] == "notsidecar", result


def test_php_client_registers_attempt_and_uploads_camshot_once(live_sidecar, tmp_path):
    image = tmp_path / "shot.jpg"
    photo = sorted((FACES / "obama").iterdir())[0]
    image.write_bytes(face_bytes(photo.relative_to(FACES), width=320, fmt="JPEG"))
    result = run_client(live_sidecar.url, live_sidecar.secret, "camshot", image)
    assert result["first"]["id"] == result["again"]["id"], result
    assert [shot["id"] for shot in result["attempt"]["shots"]] == [result["first"]["id"]]
    # An event for an attempt the sidecar does not know: the code the plugin's registration fallback relies on.
    assert result["error"]["code"] == "unknown_attempt", result



def test_release_zip_holds_the_plugin_folder_and_nothing_else(tmp_path):
    """`make release`'s ZIP, as Moodle's installer reads it: one folder named as the plugin's folder under
    mod/quiz/accessrule/, holding exactly the plugin's tracked files, its name carrying version.php's release."""
    root = PLUGIN.parents[1]
    result = subprocess.run(["make", "--no-print-directory", "release", f"PYTHON={sys.executable}"], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    release = re.search(r"\$plugin->release = '([^']+)';", (PLUGIN / "version.php").read_text()).group(1)
    target = root / result.stdout.strip().splitlines()[-1]
    assert target.name == f"quizaccess_proctorpy-{release}.zip"
    names = zipfile.ZipFile(target).namelist()
    tracked = subprocess.run(["git", "ls-files", "--", str(PLUGIN.relative_to(root))], cwd=root, check=True,
                             capture_output=True, text=True).stdout.split()
    assert sorted(names) == sorted(f"proctorpy/{Path(name).relative_to(PLUGIN.relative_to(root)).as_posix()}"
                                   for name in tracked)
    assert {"proctorpy/version.php", "proctorpy/lang/en/quizaccess_proctorpy.php", "proctorpy/amd/build/capture.min.js",
            "proctorpy/db/install.xml"} <= set(names)
    for name in names:
        assert zipfile.ZipFile(target).read(name) == (PLUGIN / name.removeprefix("proctorpy/")).read_bytes(), name
