"""The plugin's JavaScript through Moodle's own grunt, run by ../shared/moodle/tooling/grunt/build_amd.sh in the tests'
Moodle code (4.5.6 and 5.1.3): the committed amd/build is exactly what `grunt amd` makes from amd/src, and Moodle's
eslint rules find neither errors nor warnings in amd/src.

build_amd.sh fetches the Node that Moodle asks for (22.x) and Moodle's devDependencies from the npm registry the
first time, into .cache/moodle-tooling/<release>; it needs a working node and npm to do so.
"""
import re
import shutil
import subprocess

import pytest

import moodle_site

BUILD_AMD = moodle_site.TOOLING / "grunt" / "build_amd.sh"
SOURCES = sorted((moodle_site.PLUGIN / "amd" / "src").glob("*.js"))
# What grunt's eslint task prints for each problem: "  83:34  warning  Identifier ... camelcase".
PROBLEM = re.compile(r"^\s*\d+:\d+\s+(error|warning)\s+.*$|^\S.*/amd/src/\S+\.js$", re.M)

pytestmark = [pytest.mark.slow, pytest.mark.every_moodle]


def build_amd(moodle_release, moodle_code, *args):
    """Copy the working tree's plugin into Moodle's code and run build_amd.sh on it; fail if it cannot run."""
    if not BUILD_AMD.is_file():
        pytest.fail(f"Moodle's grunt tooling is missing: no {BUILD_AMD} (the team's shared/moodle/tooling beside "
                    "the repository)", pytrace=False)
    missing = [tool for tool in ("node", "npm", "python3") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: build_amd.sh needs node and npm (any version; it fetches "
                    "the Node 22 that Moodle 4.5 asks for from the npm registry) and python3. On Debian: "
                    "apt-get install nodejs npm", pytrace=False)
    moodle_site.copy_plugin(moodle_code)
    command = ["bash", str(BUILD_AMD), "--moodle", str(moodle_code), moodle_site.plugin_path(moodle_code), *args]
    result = subprocess.run(command, env=moodle_site.tooling_env(moodle_release), capture_output=True, text=True,
                            timeout=1200)
    return result, f"$ {' '.join(command)}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def test_committed_build_is_what_moodles_grunt_makes(moodle_release, moodle_code):
    result, output = build_amd(moodle_release, moodle_code, "--check")
    differ = re.findall(r"^DIFF (\S+)$", result.stdout, re.M)
    same = set(re.findall(r"^SAME (\S+)$", result.stdout, re.M))
    assert not differ, (
        f"amd/build is not what Moodle's grunt makes from amd/src: {', '.join(differ)} differ. Rebuild with "
        "`npx grunt amd --root=mod/quiz/accessrule/proctorpy` in a Moodle root (or copy grunt's output from "
        f"{moodle_release.tooling_cache / 'last-build' / 'proctorpy'}) and commit it.\n{output}")
    assert result.returncode == 0, f"build_amd.sh --check failed (exit {result.returncode}):\n{output}"
    expected = {f"{source.stem}.min.js{ext}" for source in SOURCES for ext in ("", ".map")}
    assert SOURCES and same == expected, (
        f"grunt's build and the committed one should both be exactly {sorted(expected)}; the same: "
        f"{sorted(same)}\n{output}")


def test_eslint_with_moodles_rules_finds_nothing(moodle_release, moodle_code):
    # grunt hides eslint's warnings unless asked; --max-lint-warnings=0 shows them and fails on any.
    result, output = build_amd(moodle_release, moodle_code, "--task", "eslint", "--", "--max-lint-warnings=0")
    problems = [match.group(0).strip() for match in PROBLEM.finditer(result.stdout)]
    assert result.returncode == 0 and not problems, (
        f"Moodle's eslint on amd/src (exit {result.returncode}):\n" + "\n".join(problems) + f"\n\n{output}")
    assert 'Running "eslint:amd"' in result.stdout and "Could not find any files" not in result.stdout.split(
        'Running "eslint:yui"')[0], f"grunt's eslint did not lint amd/src:\n{output}"
