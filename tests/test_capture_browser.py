"""The capture module in headless Chromium with a fake camera, posting through a stand-in of
Moodle's forwarding external functions (the plugin's own PHP client) to a real sidecar."""
import contextlib
import json
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import attempt_fields
from front_server import reply

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "moodle_plugin" / "quizaccess_proctorpy"
BROWSER = REPO / "tests" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
ATTEMPT_ID = 101
USER_ID = 7
QUEUE_KEY = f"quizaccess_proctorpy_queue_{ATTEMPT_ID}"

pytestmark = pytest.mark.slow


def plugin_strings():
    """The plugin's English strings, read by PHP from its lang file."""
    code = ("define('MOODLE_INTERNAL', 1); $string = []; include $argv[1]; echo json_encode($string);")
    out = subprocess.run(["php", "-r", code, str(PLUGIN / "lang" / "en" / "quizaccess_proctorpy.php")],
                         capture_output=True, text=True, check=True).stdout
    return out.encode()


class QuizSite:
    """Serves the test page and stands in for Moodle's AJAX endpoint; logs every forwarded call."""

    def __init__(self, sidecar):
        self.sidecar = sidecar
        self.calls = []
        self.strings = plugin_strings()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/":
                    site.send(self, BROWSER / "index.html", "text/html")
                elif path.endswith(".html"):
                    site.send(self, BROWSER / Path(path).name, "text/html")
                elif path == "/strings.json":
                    reply(self, 200, site.strings, "application/json")
                elif path.startswith("/amd/"):
                    site.send(self, PLUGIN / "amd" / "build" / (Path(path).stem + ".min.js"), "text/javascript")
                elif path.startswith("/templates/"):
                    site.send(self, PLUGIN / "templates" / Path(path).name, "text/plain")
                elif path.startswith(("/core/", "/node_modules/")):
                    site.send(self, BROWSER / path.lstrip("/"), "text/javascript")
                else:
                    reply(self, 404, b"not found", "text/plain")

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reply(self, 200, site.forward(body), "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, body):
        """What lib/ajax/service.php and the plugin's external function do: here the PHP client signs and sends."""
        request = json.loads(body)
        result = subprocess.run(
            ["php", str(PLUGIN / "tests" / "fixtures" / "client_cli.php"), self.sidecar.url, self.sidecar.secret,
             "forward", str(USER_ID)], input=body, capture_output=True, check=True)
        answer = json.loads(result.stdout)
        args = {k: v for k, v in request["args"].items() if k not in ("image", "frames")}
        self.calls.append((request["methodname"], args, answer))
        return result.stdout

    @staticmethod
    def send(handler, path, content_type):
        if not path.is_file():
            reply(handler, 404, b"not found", "text/plain")
        else:
            reply(handler, 200, path.read_bytes(), content_type)

    def shot_ids_sent(self):
        return [args["clientshotid"] for method, args, _ in self.calls if method.endswith("upload_camshot")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def signed(sidecar, method, path, payload=None):
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = sidecar.sign_headers(method, path, body)
    if payload is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(sidecar.url + path, data=body or None, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(check, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# The student's computer runs an hour fast: every Date in the page says so.
CLOCK_AN_HOUR_FAST = """
(() => {
    const RealDate = Date;
    const offset = 3600 * 1000;
    class FastDate extends RealDate {
        constructor(...args) {
            if (args.length) {
                super(...args);
            } else {
                super(RealDate.now() + offset);
            }
        }
        static now() {
            return RealDate.now() + offset;
        }
    }
    window.Date = FastDate;
})();
"""


@contextlib.contextmanager
def capture_page(playwright, sidecar, tmp_path, init_script=None, summary=False):
    """The quiz page with the capture running for a new attempt, or its summary page; the page made by a server
    whose clock is ours."""
    signed(sidecar, "PUT", f"/api/v1/attempts/{ATTEMPT_ID}",
           attempt_fields(ATTEMPT_ID, user_id=USER_ID, interval_min=1, interval_max=2, started_at=int(time.time())))
    site = QuizSite(sidecar)
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    page = context.new_page()
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{site.url}/?attempt={ATTEMPT_ID}&min=1&max=2&width=320&servertime={int(time.time() * 1000)}"
              f"&summary={int(summary)}")
    page.wait_for_function("window.captureReady", timeout=20000)
    page.site = site
    yield page
    context.close()
    site.close()


@pytest.fixture
def page(playwright, live_sidecar, tmp_path):
    with capture_page(playwright, live_sidecar, tmp_path) as page:
        yield page


def attempt(sidecar):
    return signed(sidecar, "GET", f"/api/v1/attempts/{ATTEMPT_ID}")


def queue_length(page):
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('{QUEUE_KEY}') || '[]').length")


def indicator_state(page):
    return page.get_attribute('[data-region="quizaccess_proctorpy-indicator"]', "data-state")


BANNER = '[data-region="quizaccess_proctorpy-banner"]'
SCREENSHOTS = REPO / "build" / "capture-banner"


def banner(page):
    """What the banner tells (its title's string id, '' when all is well) and its text, or None while hidden."""
    return page.evaluate(f"""() => {{
        const banner = document.querySelector('{BANNER}');
        return banner.hidden ? null : {{trouble: banner.dataset.trouble, text: banner.innerText,
            role: banner.getAttribute('role'), alert: banner.className}};
    }}""")


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_the_banner_tells_a_stopped_camera_and_goes_when_it_is_back(page, live_sidecar):
    wait_for(lambda: indicator_state(page) == "on", 20, "the camera on")
    assert banner(page) is None
    page.evaluate("window.capture.stream.getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    told = wait_for(lambda: banner(page), 5, "the banner")
    screenshot(page, "camera-stopped")
    assert told["trouble"] == "banner_camera" and told["role"] == "alert" and "alert-danger" in told["alert"]
    assert "Your camera is off" in told["text"]
    assert "The camera stopped. Turn it back on" in told["text"]
    assert "this time counts as camera off" in told["text"]
    # The capture opens the camera again by itself: the banner goes.
    wait_for(lambda: banner(page) is None and indicator_state(page) == "on", 15, "the banner to go")


def test_the_banner_tells_a_camera_taken_by_another_program(page, live_sidecar):
    wait_for(lambda: indicator_state(page) == "on", 20, "the camera on")
    # The next time the camera is opened, another program holds it.
    page.evaluate("""() => {
        navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('in use', 'NotReadableError'));
        window.capture.stream.getVideoTracks()[0].dispatchEvent(new Event('ended'));
    }""")
    told = wait_for(lambda: (banner(page) or {}).get("text", "").find("Another program") >= 0 and banner(page), 15,
                    "the banner to name the other program")
    assert "Close it; the quiz takes the camera back by itself." in told["text"]
    assert "this time counts as camera off" in told["text"]


def test_the_banner_tells_delayed_uploads_apart_and_the_outage_is_reported(page, live_sidecar):
    wait_for(lambda: indicator_state(page) == "on" and len(attempt(live_sidecar)["shots"]) >= 1, 20, "a camshot")
    with live_sidecar.stopped():
        told = wait_for(lambda: banner(page), 20, "the banner")
        wait_for(lambda: queue_length(page) >= 2, 20, "camshots queued")
        screenshot(page, "upload-delayed")
        assert told["trouble"] == "banner_upload" and "alert-warning" in told["alert"]
        assert "Upload delayed" in told["text"]
        assert "Keep this tab open: your camshots are kept in this browser and sent when the connection returns." \
            in told["text"]
        assert "This does not count against you." in told["text"]
        assert "camera off" not in told["text"]
    wait_for(lambda: banner(page) is None and queue_length(page) == 0, 90, "the banner to go and the queue to drain")
    # The browser told the sidecar when uploads failed and when they came back, by the server's clock.
    events = wait_for(lambda: {"upload_failed", "upload_back"} <= {e["type"] for e in attempt(live_sidecar)["events"]}
                      and attempt(live_sidecar)["events"], 30, "the outage's events")
    failed = next(e["at"] for e in events if e["type"] == "upload_failed")
    back = next(e["at"] for e in events if e["type"] == "upload_back")
    assert failed < back <= time.time() * 1000


def test_an_outage_that_outlasts_its_page_is_told_from_its_first_failure(page, live_sidecar):
    wait_for(lambda: indicator_state(page) == "on", 20, "the camera on")
    outage_key = f"quizaccess_proctorpy_outage_{ATTEMPT_ID}"
    with live_sidecar.stopped():
        wait_for(lambda: (banner(page) or {}).get("trouble") == "banner_upload", 20, "the banner")
        first_failure = page.evaluate(f"Number(sessionStorage.getItem('{outage_key}'))")
        assert first_failure > 0
        # The student goes on to the next page of the attempt while the sidecar is still down.
        page.reload()
        page.wait_for_function("window.captureReady", timeout=20000)
        wait_for(lambda: (banner(page) or {}).get("trouble") == "banner_upload", 20, "the banner on the next page")
    events = wait_for(lambda: {"upload_failed", "upload_back"} <= {e["type"] for e in attempt(live_sidecar)["events"]}
                      and attempt(live_sidecar)["events"], 90, "the outage's events")
    assert [e["at"] for e in events if e["type"] == "upload_failed"] == [first_failure]
    assert page.evaluate(f"sessionStorage.getItem('{outage_key}')") is None
    wait_for(lambda: banner(page) is None, 30, "the banner to go")


def test_the_summary_page_warns_of_camshots_still_queued(playwright, live_sidecar, tmp_path):
    with capture_page(playwright, live_sidecar, tmp_path, summary=True) as page:
        wait_for(lambda: indicator_state(page) == "on", 20, "the camera on")
        assert banner(page) is None
        with live_sidecar.stopped():
            wait_for(lambda: queue_length(page) >= 3, 20, "camshots queued")
            told = wait_for(lambda: banner(page) if (banner(page) or {}).get("trouble") == "banner_queued" else None,
                            10, "the warning")
            screenshot(page, "summary-queued")
            camshots = page.evaluate(f"JSON.parse(sessionStorage.getItem('{QUEUE_KEY}'))"
                                     ".filter(i => i.kind === 'camshot').length")
            assert "Camshots still waiting to be sent" in told["text"]
            assert "have not reached the proctoring server yet. Keep this tab open a moment before you submit" \
                in told["text"]
            assert any(f"{n} camshots of this attempt" in told["text"] for n in range(camshots - 1, camshots + 2))
        wait_for(lambda: banner(page) is None and queue_length(page) == 0, 90, "the warning to go")


def test_capture_cadence_retries_and_events(page, live_sidecar):
    # Cadence: camshots every 1 to 2 s, scaled to the configured width.
    shots = wait_for(lambda: len(attempt(live_sidecar)["shots"]) >= 4 and attempt(live_sidecar)["shots"], 20,
                     "four camshots")
    gaps = [b["taken_at"] - a["taken_at"] for a, b in zip(shots, shots[1:])]
    assert all(950 <= gap <= 2600 for gap in gaps), gaps
    assert {shot["width"] for shot in shots} == {320}
    assert indicator_state(page) == "on"

    # The sidecar goes away: shots keep being taken, queued, and the indicator says so.
    live_sidecar.stop()
    wait_for(lambda: queue_length(page) >= 3, 20, "camshots queued while the sidecar is down")
    assert indicator_state(page) == "reconnecting"
    queued_during_outage = queue_length(page)
    live_sidecar.start()

    # Back up: everything queued arrives, each camshot once although some were sent several times.
    wait_for(lambda: queue_length(page) == 0 and indicator_state(page) == "on", 90, "the queue to drain")
    sent = page.site.shot_ids_sent()
    assert len(sent) > len(set(sent)), "some camshots should have been retried"
    stored = attempt(live_sidecar)["shots"]
    assert len(stored) >= len(set(sent)) >= queued_during_outage
    assert len({shot["id"] for shot in stored}) == len(stored)

    # Browser events: window focus, tab visibility, camera loss and its return.
    page.evaluate("window.dispatchEvent(new Event('blur')); window.dispatchEvent(new Event('focus'))")
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.evaluate("window.capture.stream.getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    wait_for(lambda: indicator_state(page) == "off", 5, "the indicator to show the camera off")
    wanted = {"focus_lost", "focus_back", "tab_hidden", "tab_visible", "camera_lost", "camera_back", "upload_failed"}
    events = wait_for(lambda: wanted <= {e["type"] for e in attempt(live_sidecar)["events"]} and attempt(live_sidecar)["events"],
                      30, "every kind of event")
    assert indicator_state(page) == "on"
    # Each event once, whatever the retries.
    assert len({e["client_event_id"] for e in events}) == len(events)

    # Every camshot the browser took reached the sidecar exactly once.
    wait_for(lambda: queue_length(page) == 0, 30, "the queue to drain")
    sent = set(page.site.shot_ids_sent())
    assert len(attempt(live_sidecar)["shots"]) == len(sent)


def test_a_computer_clock_an_hour_fast_sends_times_by_the_servers_clock(playwright, live_sidecar, tmp_path):
    with capture_page(playwright, live_sidecar, tmp_path, CLOCK_AN_HOUR_FAST) as page:
        assert page.evaluate("Date.now() - performance.timeOrigin - performance.now()") > 3500 * 1000
        page.evaluate("window.dispatchEvent(new Event('blur')); window.dispatchEvent(new Event('focus'))")
        shots = wait_for(lambda: len(attempt(live_sidecar)["shots"]) >= 2 and attempt(live_sidecar)["shots"], 20,
                         "two camshots from the computer whose clock is an hour fast")
        events = wait_for(lambda: {"focus_lost", "focus_back"} <= {e["type"] for e in attempt(live_sidecar)["events"]}
                          and attempt(live_sidecar)["events"], 20, "its focus events")
        now = time.time() * 1000
        # By the server's clock, not the computer's: none of it is refused, none of it an hour ahead.
        assert all(abs(item["taken_at"] - now) < 60_000 for item in shots), shots
        assert all(abs(item["at"] - now) < 60_000 for item in events), events
        refused = [answer for method, _, answer in page.site.calls if "exception" in json.dumps(answer)]
        assert refused == [], refused
