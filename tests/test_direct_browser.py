"""Direct upload in headless Chromium: the capture module posts through the Moodle host's proxied
path with the token the plugin minted, and falls back to forwarding through Moodle when that path
breaks, losing no camshot and reporting the fallback."""
import json
import re
import subprocess
import time
import urllib.parse

import pytest

from conftest import LiveSidecar, attempt_fields
from front_server import FrontServer
from test_capture_browser import (
    ATTEMPT_ID, CHROMIUM, CHROMIUM_FLAGS, PLUGIN, USER_ID, QuizSite, attempt, indicator_state,
    queue_length, signed, wait_for,
)

pytestmark = pytest.mark.slow

CLIENT_CLI = PLUGIN / "tests" / "fixtures" / "client_cli.php"
SHOT_ID = re.compile(rb'name="client_shot_id"\r\n\r\n([^\r]+)\r\n')


def direct_config(front, secret, attempt_id=ATTEMPT_ID):
    """What the plugin's setup_attempt_page hands the capture module in direct mode (minted by PHP)."""
    out = subprocess.run(["php", str(CLIENT_CLI), front.url, secret, "directconfig", str(attempt_id), str(USER_ID),
                          "/proctorpy/"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.fixture
def sidecar(tmp_path):
    # Camshots every 1-2 s would soon exceed the default rate, which is meant for real intervals.
    live = LiveSidecar(tmp_path / "live", env={"PROCTORPY_CAPTURE_MAX_SHOTS_PER_MINUTE": "600"}).start()
    yield live
    live.stop()


@pytest.fixture
def open_quiz(playwright, sidecar, tmp_path):
    """Open the attempt page through the front server, with a given direct upload config."""
    signed(sidecar, "PUT", f"/api/v1/attempts/{ATTEMPT_ID}",
           attempt_fields(ATTEMPT_ID, user_id=USER_ID, interval_min=1, interval_max=2, started_at=int(time.time())))
    site = QuizSite(sidecar)
    front = FrontServer(sidecar.url, moodle_url=site.url)
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)

    def open_page(config):
        page = context.new_page()
        query = urllib.parse.urlencode({"attempt": ATTEMPT_ID, "min": 1, "max": 2, "width": 320,
                                        "direct": json.dumps(config)})
        page.goto(f"{front.url}/?{query}")
        page.wait_for_function("window.captureReady", timeout=20000)
        page.site, page.front = site, front
        return page

    yield open_page, front
    context.close()
    front.close()
    site.close()


def direct_shot_ids(front, status=None):
    """client_shot_id of each camshot that came to the public path (answered with `status`, if given)."""
    return [SHOT_ID.search(body).group(1).decode() for path, answer, body in front.direct_requests
            if path == "/api/v1/direct/camshots" and (status is None or answer == status)]


def test_direct_upload_then_fallback_when_the_proxy_breaks(open_quiz, sidecar):
    open_page, front = open_quiz
    page = open_page(direct_config(front, sidecar.secret))

    # The proxy works: camshots and events go straight to the sidecar, none through Moodle.
    wait_for(lambda: len(attempt(sidecar)["shots"]) >= 3, 20, "three camshots")
    page.evaluate("window.dispatchEvent(new Event('blur'))")
    wait_for(lambda: "focus_lost" in {e["type"] for e in attempt(sidecar)["events"]}, 10, "the focus_lost event")
    assert page.site.calls == [], "nothing should be forwarded through Moodle while direct upload works"
    assert len(direct_shot_ids(front, 201)) >= 3
    # The proxy records a request once its answer is back, a moment after the sidecar stored it.
    wait_for(lambda: ("/api/v1/direct/events", 201) in {(path, status) for path, status, _ in front.direct_requests},
             5, "the proxy to record the event it passed")
    assert indicator_state(page) == "on"

    # The proxy breaks (502): the failed camshot and every later one go through Moodle at once.
    front.mode = "bad_gateway"
    before = len(attempt(sidecar)["shots"])
    wait_for(lambda: len(page.site.shot_ids_sent()) >= 3, 20, "three camshots forwarded through Moodle")
    wait_for(lambda: queue_length(page) == 0, 20, "the queue to drain")
    failed = direct_shot_ids(front, 502)
    assert len(failed) == 1, "after one failure the page stops trying the broken path"
    forwarded = page.site.shot_ids_sent()
    assert forwarded[0] == failed[0], "the camshot that failed directly is the first one forwarded"
    assert indicator_state(page) == "on", "a fallback is not an outage"

    # Nothing lost, nothing twice: every camshot the browser took is stored exactly once.
    taken = set(direct_shot_ids(front, 201)) | set(forwarded)
    shots = attempt(sidecar)["shots"]
    assert len(shots) == len(taken) and len(shots) >= before + 3
    assert len({shot["id"] for shot in shots}) == len(shots)

    # The fallback is in the report as one event, and it was no outage.
    types = [e["type"] for e in attempt(sidecar)["events"]]
    assert types.count("direct_fallback") == 1, types
    assert "upload_failed" not in types


@pytest.mark.parametrize("breakage", ["not_found", "healthz_only", "unreachable"])
def test_broken_public_path_falls_back_from_the_first_camshot(open_quiz, sidecar, breakage):
    open_page, front = open_quiz
    config = direct_config(front, sidecar.secret)
    if breakage == "unreachable":
        # Nothing listens there: fetch fails without an answer.
        config["url"] = "http://127.0.0.1:9/proctorpy"
    else:
        front.mode = breakage
    page = open_page(config)

    wait_for(lambda: len(attempt(sidecar)["shots"]) >= 3, 25, "three camshots through Moodle")
    wait_for(lambda: queue_length(page) == 0, 20, "the queue to drain")
    assert direct_shot_ids(front, 201) == []
    assert len(direct_shot_ids(front)) == (0 if breakage == "unreachable" else 1)
    forwarded = page.site.shot_ids_sent()
    shots = attempt(sidecar)["shots"]
    assert len(shots) == len(set(forwarded))
    events = wait_for(lambda: attempt(sidecar)["events"] or None, 10, "the fallback event")
    assert [e["type"] for e in events] == ["direct_fallback"]


def test_token_for_another_attempt_falls_back_and_is_refused(open_quiz, sidecar):
    # A token the sidecar refuses (here: another attempt's) is not an outage either: Moodle delivers.
    open_page, front = open_quiz
    config = direct_config(front, sidecar.secret)
    config["token"] = direct_config(front, sidecar.secret, attempt_id=ATTEMPT_ID + 1)["token"]
    page = open_page(config)
    wait_for(lambda: len(attempt(sidecar)["shots"]) >= 2, 25, "two camshots through Moodle")
    refused = [status for path, status, _ in front.direct_requests if path == "/api/v1/direct/camshots"]
    assert refused == [403]
    # The page's record of a forwarded camshot follows the sidecar's answer to it.
    wait_for(lambda: len(page.site.shot_ids_sent()) >= 2, 10, "the page to record two forwarded camshots")
    assert "direct_fallback" in {e["type"] for e in attempt(sidecar)["events"]}
