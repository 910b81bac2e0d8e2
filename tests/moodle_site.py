"""A real Moodle for the tests: its code, unpacked into the ignored .cache/moodle, with the plugin copied
in from the working tree the way an admin installs it.

The code comes from PROCTORPY_MOODLE_SOURCE when set (a Moodle checkout or a release tarball), else from
the team's Moodle 4.5.6 in ../shared/moodle. Without either the tests that need Moodle fail and say so.
"""
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "moodle_plugin" / "quizaccess_proctorpy"
SHARED_MOODLE = REPO.parent / "shared" / "moodle"
CACHE = REPO / ".cache" / "moodle"
WWW = CACHE / "www"
TOOLING = SHARED_MOODLE / "tooling"
# Where Moodle's own tooling keeps node, node_modules and the code checker's standards between runs.
TOOLING_CACHE = REPO / ".cache" / "moodle-tooling"
PLUGIN_PATH = "mod/quiz/accessrule/proctorpy"
# Left out of the copy: what only the plugin's developers use, never part of what an admin installs.
NOT_INSTALLED = ("node_modules", ".phpunit.result.cache")


class MoodleUnavailable(RuntimeError):
    """No Moodle code could be found or unpacked."""


def moodle_source():
    """The Moodle code to test against: a folder or a .tar.xz/.tgz, with a sentence if there is none."""
    named = os.environ.get("PROCTORPY_MOODLE_SOURCE")
    if named:
        source = Path(named).expanduser().resolve()
        if not source.exists():
            raise MoodleUnavailable(f"PROCTORPY_MOODLE_SOURCE={named} does not exist")
        return source
    tarballs = sorted(SHARED_MOODLE.glob("moodle-*.tar.xz"))
    if not tarballs:
        raise MoodleUnavailable(
            f"no Moodle to test against: {SHARED_MOODLE} has no moodle-*.tar.xz; set PROCTORPY_MOODLE_SOURCE to a "
            "Moodle 4.5 checkout or release tarball")
    return tarballs[-1]


def unpack_moodle():
    """Moodle's code in WWW, unpacked (or copied) once per source; returns WWW."""
    source = moodle_source()
    stamp = CACHE / "source.txt"
    wanted = f"{source} {source.stat().st_mtime_ns}"
    if (WWW / "version.php").exists() and stamp.exists() and stamp.read_text() == wanted:
        return WWW
    shutil.rmtree(WWW, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        if not (source / "version.php").exists():
            raise MoodleUnavailable(f"{source} is not a Moodle checkout (no version.php)")
        shutil.copytree(source, WWW, symlinks=True, ignore=shutil.ignore_patterns(".git", "config.php", "node_modules"))
    else:
        scratch = CACHE / "unpacking"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        subprocess.run(["tar", "xf", str(source), "-C", str(scratch)], check=True)
        roots = [p.parent for p in scratch.glob("*/version.php")]
        if len(roots) != 1:
            raise MoodleUnavailable(f"{source} does not unpack to one Moodle folder")
        roots[0].rename(WWW)
        shutil.rmtree(scratch)
    stamp.write_text(wanted)
    return WWW


def copy_plugin(www=WWW, source=PLUGIN):
    """Copy the plugin into Moodle as an admin does (a copy, not a link); returns where it went."""
    target = Path(www) / PLUGIN_PATH
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*NOT_INSTALLED))
    return target


def tooling_env():
    """The environment for ../shared/moodle/tooling scripts: their caches go to an ignored folder."""
    TOOLING_CACHE.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "MOODLE_TOOLING_CACHE": str(TOOLING_CACHE)}
