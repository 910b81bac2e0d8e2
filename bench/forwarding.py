"""What forwarding a camshot through Moodle costs beside a bare Moodle AJAX call of the same size.

Builds the suite's real Moodle (tests/moodle_site.py: PostgreSQL, php-fpm, nginx) with the plugin, the course of
tests/moodle/make_course.php with its quiz proctored, Barack Obama's attempt in progress and a real gunicorn sidecar
(analysis off, as in bench/ingest.py, so no face search competes for the cores), signs Barack Obama in over HTTP
and posts, through lib/ajax/service.php with his session and sesskey over one keep-alive connection as a browser
does, pairs of:

- quizaccess_proctorpy_upload_camshot with a real 320x240 JPEG camshot in base64, as the capture module sends it;
- core_user_set_user_preferences with a request body of exactly the same size: the call Moodle's own pages make
  through core/ajax when a student opens or closes a drawer (drawer-open-block, saved as it already is, so
  nothing is written), its second entry carrying the padding as a PARAM_RAW string that Moodle validates and
  refuses as an unknown preference (a warning, no write). It checks the login and the sesskey, validates its
  parameters and answers: a Moodle AJAX call doing next to nothing of its own.

The two alternate (which goes first swaps every pair); the figures are the median of each and the median of the
per-pair ratios. --plugin installs another copy of the plugin (a checkout of main, to measure before a change).

    .venv/bin/python bench/forwarding.py [--pairs 80] [--release 4.5.6|5.1.3] [--plugin PATH]
"""
import argparse
import base64
import http.client
import http.cookiejar
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import moodle_site  # noqa: E402
from conftest import FACES, LiveSidecar, free_port  # noqa: E402
from ingest import camshot_jpeg  # noqa: E402
from moodle_journey import PASSWORD, QUIZ_FORM, Journey, private_moodle  # noqa: E402

STUDENT = "student1"
# The preference a Moodle page saves through core/ajax as a student opens or closes the block drawer; the journeys'
# course leaves it at '0' (moodle_journey.Journey.make_course).
PREFERENCE = "drawer-open-block"
WARM_UP_PAIRS = 5


def autoload(release):
    """PHPUnit's autoloader for make_course.php's question generator (moodle_journey.phpunit_autoload)."""
    if int(release.branch) < 500:
        return "/usr/share/php/PHPUnit/Autoload.php"
    tools = moodle_site.MoodleSite(moodle_site.unpack_moodle(release, release.code), release)
    tools.setup_phpunit()
    return str(tools.www / "vendor" / "autoload.php")


class MoodleSession:
    """A user signed in to Moodle over HTTP, calling lib/ajax/service.php as core/ajax does."""

    def __init__(self, site, username, password, course):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = opener.open(site.url + "/login/index.php").read().decode()
        token = re.search(r'name="logintoken" value="([^"]+)"', login).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "logintoken": token}).encode()
        opener.open(site.url + "/login/index.php", form).read()
        # The course's page, as a student comes to the quiz: Moodle keeps the enrolment it checked in the session.
        page = opener.open(f"{site.url}/course/view.php?id={course}").read().decode()
        found = re.search(r'"sesskey":"([^"]+)"', page)
        if not found:
            raise SystemExit(f"{username} could not sign in to {site.url}")
        self.sesskey = found.group(1)
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        self.connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)

    def body(self, methodname, args):
        return json.dumps([{"index": 0, "methodname": methodname, "args": args}]).encode()

    def call(self, methodname, body):
        """Post one request body; its seconds, after checking that Moodle answered without an error."""
        path = f"/lib/ajax/service.php?sesskey={self.sesskey}&info={methodname}"
        started = time.perf_counter()
        self.connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "Cookie": self.cookie, "X-Requested-With": "XMLHttpRequest"})
        answer = self.connection.getresponse().read()
        elapsed = time.perf_counter() - started
        result = json.loads(answer)
        if not isinstance(result, list) or result[0].get("error"):
            raise SystemExit(f"{methodname} failed: {answer[:1000]!r}")
        return elapsed


def camshot_body(session, attempt, number, image):
    return session.body("quizaccess_proctorpy_upload_camshot", {
        "attemptid": attempt, "takenat": int(time.time() * 1000), "clientshotid": f"bench{attempt}n{number}",
        "kind": "attempt", "image": base64.b64encode(image).decode()})


def preference_body(session, size):
    """core_user_set_user_preferences saving the drawer's preference, padded to exactly size bytes."""
    def body(padding):
        return session.body("core_user_set_user_preferences", {"preferences": [
            {"name": PREFERENCE, "value": "0", "userid": 0},
            {"name": "padding", "value": padding, "userid": 0}]})
    shortfall = size - len(body(""))
    if shortfall < 0:
        raise SystemExit(f"a camshot body of {size} bytes is smaller than the preference call's own")
    return body("x" * shortfall)


def measure(session, attempt, image, pairs):
    """Per pair: (camshot seconds, preference seconds); warm-up pairs are left out."""
    timings = []
    for number in range(WARM_UP_PAIRS + pairs):
        forwarded = camshot_body(session, attempt, number, image)
        bare = preference_body(session, len(forwarded))
        if number % 2:
            core = session.call("core_user_set_user_preferences", bare)
            camshot = session.call("quizaccess_proctorpy_upload_camshot", forwarded)
        else:
            camshot = session.call("quizaccess_proctorpy_upload_camshot", forwarded)
            core = session.call("core_user_set_user_preferences", bare)
        if number >= WARM_UP_PAIRS:
            timings.append((camshot, core))
    return timings


def moodle_release_name(site):
    text = (moodle_site.public_folder(site.www) / "version.php").read_text()
    return re.search(r"\$release\s*=\s*'([^']+)'", text).group(1)


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{platform.node()}, {os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=80, help="measured pairs (default 80)")
    parser.add_argument("--release", default=moodle_site.FIRST_RELEASE.name, choices=list(moodle_site.RELEASES),
                        help="Moodle release (default %(default)s)")
    parser.add_argument("--plugin", type=Path, default=moodle_site.PLUGIN,
                        help="the plugin's folder to install (default: this working tree's)")
    args = parser.parse_args()
    release = moodle_site.RELEASES[args.release]
    image = camshot_jpeg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-forwarding-"))
    sidecar = LiveSidecar(tmp / "sidecar").start(60)
    site = moodle_site.MoodleSite(private_moodle(moodle_site.unpack_moodle(release), release.cache / "bench-www"),
                                  release, free_port(), "bench")
    try:
        site.install()
        site.start_web()
        site.install_plugin(args.plugin)
        site.set_config("sidecarurl", sidecar.url)
        site.set_config("secret", sidecar.secret)
        journey = Journey(None, site, sidecar, tmp, autoload(release))
        course = journey.make_course()
        journey.cli("proctor", course["quiz"], json.dumps(QUIZ_FORM))
        attempt = journey.cli("start", course["quiz"], STUDENT, FACES / "obama" / "obama.jpg", 1)["attempt"]
        session = MoodleSession(site, STUDENT, PASSWORD, course["course"])
        load = os.getloadavg()
        timings = measure(session, attempt, image, args.pairs)
        load_after = os.getloadavg()
        php = site.php("-r", "echo PHP_VERSION;").stdout
        body = len(camshot_body(session, attempt, 0, image))
    finally:
        site.stop_web()
        sidecar.stop()
        site.psql(f'drop database if exists "{site.dbname}" with (force)')
        shutil.rmtree(tmp, ignore_errors=True)
    camshot = statistics.median(t[0] for t in timings) * 1000
    core = statistics.median(t[1] for t in timings) * 1000
    ratios = sorted(t[0] / t[1] for t in timings)
    ratio = statistics.median(ratios)
    print(f"machine: {machine()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before, "
          f"{load_after[0]:.2f} after")
    print(f"Moodle {moodle_release_name(site)} (PHP {php}, php-fpm, nginx, PostgreSQL), plugin from {args.plugin}; "
          f"camshot 320x240 JPEG {len(image)} bytes, request body {body} bytes; {args.pairs} pairs after "
          f"{WARM_UP_PAIRS} warm-up")
    print(f"quizaccess_proctorpy_upload_camshot   median {camshot:7.2f} ms")
    print(f"core_user_set_user_preferences        median {core:7.2f} ms")
    print(f"per-pair ratio: median {ratio:.3f}x, quartiles {ratios[len(ratios) // 4]:.3f}x-"
          f"{ratios[3 * len(ratios) // 4]:.3f}x; forwarded camshot costs {camshot - core:.2f} ms more; "
          f"bar <= 1.10x {'met' if ratio <= 1.10 else 'missed'}")


if __name__ == "__main__":
    main()
