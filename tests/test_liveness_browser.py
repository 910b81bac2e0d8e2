"""The identity step in headless Chromium: the plugin's pre-flight template and module, a fake camera playing a
face video, the plugin's PHP client forwarding to a real sidecar that draws the challenge and checks the frames."""
import contextlib
import time

import pytest

from conftest import FACES, REPO, LiveSidecar, attempt_fields
from moodle import face_video
from sidecar.analysis import liveness
from moodle.face_video import coming_closer_video, still_photo_video
from test_capture_browser import (
    ATTEMPT_ID, CHROMIUM, CHROMIUM_FLAGS, USER_ID, QuizSite, attempt, signed, wait_for,
)

pytestmark = pytest.mark.slow

FPS = face_video.FPS


@pytest.fixture
def sidecar(tmp_path, backend_env, migrated_data_dir):
    """A sidecar that draws "closer" only, so that the video knows what to do."""
    live = LiveSidecar(migrated_data_dir(tmp_path / "live"),
                       env={**backend_env, "PROCTORPY_IDENTITY_CHALLENGES": "closer"}).start()
    yield live
    live.stop()


@contextlib.contextmanager
def identity_page(playwright, sidecar, tmp_path, video):
    """The pre-flight form at the identity step of a new attempt, its camera playing the video."""
    signed(sidecar, "PUT", f"/api/v1/attempts/{ATTEMPT_ID}",
           attempt_fields(ATTEMPT_ID, user_id=USER_ID, identity_check="face", started_at=int(time.time())))
    site = QuizSite(sidecar)
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={video}"])
    page = context.new_page()
    page.goto(f"{site.url}/preflight.html?attempt={ATTEMPT_ID}&width=320&servertime={int(time.time() * 1000)}")
    page.wait_for_function("window.preflightReady", timeout=20000)
    page.wait_for_function("!document.querySelector('[data-action=takephoto]').disabled", timeout=20000)
    page.site = site
    yield page
    context.close()
    site.close()


def take_check(page, screenshot=None):
    """Start the identity check; the instruction it showed (in the screenshot, if asked) and the answer (its
    alert kind and sentence)."""
    page.click("[data-action=takephoto]")
    instruction = page.locator("[data-region=instruction]")
    instruction.wait_for(state="visible", timeout=20000)
    shown = instruction.inner_text()
    if screenshot:
        page.screenshot(path=str(screenshot))
    page.wait_for_function("""() => {
        const message = document.querySelector('[data-region=quizaccess_proctorpy-identity] [data-region=message]');
        return /alert-(success|warning|danger)/.test(message.className);
    }""", timeout=60000)
    message = page.locator("[data-region=quizaccess_proctorpy-identity] [data-region=message]")
    return shown, message.get_attribute("class"), message.inner_text()


def test_a_student_who_comes_closer_passes(playwright, sidecar, tmp_path):
    video = coming_closer_video(tmp_path / "closer.y4m", FACES / "obama/obama1.jpg")
    with identity_page(playwright, sidecar, tmp_path, video) as page:
        shown, kind, text = take_check(page, REPO / "build" / "liveness" / "identity-challenge.png")
        page.screenshot(path=str(REPO / "build" / "liveness" / "identity-passed.png"))
        calls = [(method, args) for method, args, _ in page.site.calls]
    assert shown == "Now: " + liveness.INSTRUCTIONS["closer"]
    assert "alert-success" in kind and "Your face was found." in text, text
    assert [method for method, _ in calls] == ["quizaccess_proctorpy_get_identity_challenge",
                                               "quizaccess_proctorpy_check_identity"]
    shots = attempt(sidecar)["shots"]
    assert [(shot["kind"], shot["status"]) for shot in shots] == [("identity", "ok")]


def test_a_still_photo_is_refused_and_the_student_may_try_again(playwright, sidecar, tmp_path):
    video = still_photo_video(tmp_path / "still.y4m", FACES / "obama/obama1.jpg")
    with identity_page(playwright, sidecar, tmp_path, video) as page:
        _, kind, text = take_check(page)
        page.screenshot(path=str(REPO / "build" / "liveness" / "identity-still-refused.png"))
        assert "alert-warning" in kind, text
        assert liveness.MESSAGES["still"] in text, text  # the fake camera repeats one frame exactly
        assert "Start the check again" in text
        wait_for(lambda: not page.locator("[data-action=takephoto]").is_disabled(), 10, "the button back")
    assert attempt(sidecar)["shots"] == []
