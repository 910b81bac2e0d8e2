"""The admin's journeys (DESIGN.md 1, 5 and 6) in a real Moodle, in headless Chromium: the install of the previous
release and the upgrade from it, both from the release's ZIP through Site administration > Plugins > Install plugins,
the plugin's settings, Test connection and the sidecar's console, the privacy API's export and delete, and
the check that no page showed Moodle's debugging output. tests/moodle_journey.py has the fixtures."""
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import moodle_site
from conftest import REPO
from moodle_journey import (
    OBAMA, PLUGIN, ROSE, SECTION, debugging_output, plugin_version, start_journey, stop_journey, wait_for,
)
from sidecar.client import SidecarError

PREVIOUS_RELEASE = "3dbe533"  # the first commit whose plugin installs

pytestmark = pytest.mark.slow


@pytest.fixture
def upgrade_journey(browsers, tmp_path, moodle_release, phpunit_autoload):
    """A Moodle site of its own, with its own sidecar, for the upgrade: no other journey sees the previous release."""
    journey = start_journey(browsers, tmp_path, moodle_release, phpunit_autoload, name="upgrade")
    yield journey
    stop_journey(journey)


def release_zip(folder, target):
    """A ZIP of a plugin folder as the Moodle plugins directory serves one: the folder as proctorpy/."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"proctorpy/{path.relative_to(folder).as_posix()}")
    return target


def choose_and_upload(journey, picker, zip_path, name):
    """Choose the ZIP in the file picker's upload form and send it; wait until the picker names it as uploaded.

    The picker opens on the repository used last and draws its panel again when a listing answers, so a form
    filled in just before may be drawn over: its button then finds no file and says so ("No files attached").
    The file is then chosen again, in the form drawn last.
    """
    uploaded = picker.page.locator(".filepicker-filename", has_text=zip_path.name)
    no_file = picker.page.locator(".fp-msg-error:visible")
    for _ in range(3):
        picker.locator("input[type=file][name=repo_upload_file]").set_input_files(str(zip_path))
        journey.shot(picker.page, f"{name}-file-picker", full_page=False)
        picker.locator(".fp-upload-btn").click()
        # The upload goes through Moodle's repository AJAX, slow on a busy machine.
        uploaded.or_(no_file).first.wait_for(timeout=120000)
        if uploaded.is_visible():
            return
        no_file.locator(".fp-msg-butok").click()
    pytest.fail("the file picker's upload form found no file, three times", pytrace=False)


def install_zip(journey, zip_path, name, expected):
    """Site administration > Plugins > Install plugins, as an admin installs or upgrades a plugin: the ZIP through
    Moodle's file picker, its validation, then the plugins check (where the plugin is `expected`, "To be installed"
    or "To be upgraded") and "Upgrade Moodle database now"; returns the plugins check's row of the plugin."""
    site = journey.site
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(site.url + "/admin/tool/installaddon/index.php")
    page.click("#page-content [name=zipfilechoose]")
    picker = page.locator(".file-picker:visible")
    picker.locator(".fp-repo-name", has_text="Upload a file").click()
    choose_and_upload(journey, picker, zip_path, name)
    journey.shot(page, f"{name}-install-plugins")
    page.click("#id_submitbutton")
    page.wait_for_load_state()
    journey.shot(page, f"{name}-validation")
    assert "Validation successful, installation can continue" in page.inner_text("body"), page.inner_text("body")
    page.get_by_role("button", name="Continue").click()
    # Moodle has put the code in place; Site administration's upgrade begins: the release notes and the
    # environment check, then the plugins check.
    page.wait_for_selector("text=Your server environment meets all minimum requirements", timeout=120000)
    journey.shot(page, f"{name}-environment")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=Plugins check", timeout=120000)
    journey.shot(page, f"{name}-plugins-check")
    row = page.locator("tr", has_text="/mod/quiz/accessrule/proctorpy").first.inner_text()
    assert "Webcam proctoring (proctorpy)" in row and expected in row, row
    page.click("button:has-text('Upgrade Moodle database now'), input[value='Upgrade Moodle database now']")
    page.wait_for_selector("text=Success", timeout=120000)
    journey.shot(page, f"{name}-success")
    page.click("button:has-text('Continue'), a:has-text('Continue'), input[value='Continue']")
    page.wait_for_load_state()
    if "upgradesettings.php" in page.url:
        journey.shot(page, f"{name}-new-settings")
        page.click("#adminsettings button[type=submit], #adminsettings input[type=submit]")
        page.wait_for_load_state()
    page.context.close()
    site.reload_php()
    return row


@pytest.mark.every_moodle
def test_upgrade_from_the_previous_release_keeps_settings_and_data(upgrade_journey):
    journey = upgrade_journey
    site, sidecar = journey.site, journey.sidecar
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", PREVIOUS_RELEASE]).returncode != 0:
        pytest.fail(f"commit {PREVIOUS_RELEASE} (the previous release of the plugin) is not in this repository: "
                    "the upgrade path cannot be tested", pytrace=False)
    old = journey.tmp / "previous"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE, "moodle_plugin/quizaccess_proctorpy"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "x", "-C", str(old)], input=archive, check=True)
    old_plugin = old / "moodle_plugin" / "quizaccess_proctorpy"
    # Moodle's installer writes the plugin where its type lives: that folder is the web server's, as on a site
    # whose admins install plugins from Site administration.
    installed = site.www / moodle_site.plugin_path(site.www)
    shutil.chown(installed.parent, moodle_site.WEB_USER, moodle_site.WEB_USER)
    install_zip(journey, release_zip(old_plugin, journey.tmp / "quizaccess_proctorpy-previous.zip"),
                "install-previous", "To be installed")
    assert journey.config()["version"] == str(plugin_version(old_plugin))

    site.set_config("sidecarurl", sidecar.url)
    site.set_config("secret", sidecar.secret)
    ids = journey.make_course()
    settings = {"intervalmin": 17, "intervalmax": 43, "imagewidth": 400, "identitycheck": "match", "threshold": 72,
                "retentiondays": 45}
    journey.cli("proctor", ids["quiz"], json.dumps(settings))
    # Rose Leslie's attempt, its camshots forwarded by the old plugin, submitted; cron sends the finish.
    attempt_id = journey.cli("attempt", ids["quiz"], "student4", ROSE, 2)["attempt"]
    site.cron()
    before = wait_for(lambda: (a := journey.attempt_json(attempt_id)) and a["attempt"].get("finished_at")
                      and all(s["status"] != "pending" for s in a["shots"]) and a,
                      60, "the old plugin's attempt to be finished and analysed in the sidecar")
    assert len(before["shots"]) == 2
    row_before, config_before = journey.quiz_row(ids["quiz"]), journey.config()
    assert {k: row_before[k] for k in settings} == settings and row_before["enabled"] == 1

    # The upgrade to the working tree's release, as an admin does it: `make release`'s ZIP through Install plugins,
    # which replaces the old code, then the plugins check and "Upgrade Moodle database now".
    new_version, old_version = plugin_version(PLUGIN), plugin_version(old_plugin)
    assert new_version > old_version, (
        f"the plugin's code changed since {PREVIOUS_RELEASE} but version.php still says {new_version}: Moodle would "
        "not see an upgrade (nor rebuild its class cache on a production site)")
    built = subprocess.run([sys.executable, str(REPO / "packaging" / "release"), str(journey.tmp / "dist")],
                           capture_output=True, text=True, check=True).stdout.strip()
    row = install_zip(journey, Path(built), "upgrade", "To be upgraded")
    assert str(old_version) in row and str(new_version) in row
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(site.url + "/admin/plugins.php?contribonly=1")
    row = page.locator("tr", has_text="Webcam proctoring (proctorpy)").first
    assert str(new_version) in row.inner_text()
    row.scroll_into_view_if_needed()
    journey.shot(page, "upgrade-plugins-overview", full_page=False)
    page.context.close()
    # What Moodle installed is the release's code, file for file.
    with zipfile.ZipFile(built) as release:
        for name in release.namelist():
            assert (installed / name.removeprefix("proctorpy/")).read_bytes() == release.read(name), name

    config_after = journey.config()
    assert config_after.pop("version") == str(plugin_version(PLUGIN))
    config_before.pop("version")
    assert {k: v for k, v in config_after.items() if k in config_before} == config_before
    # The quiz keeps its settings, and gains those of the new release at their defaults: alerts on.
    assert journey.quiz_row(ids["quiz"]) == {**row_before, "alerts": 1}
    after = journey.attempt_json(attempt_id)
    assert [s["id"] for s in after["shots"]] == [s["id"] for s in before["shots"]]
    assert after["attempt"]["user_id"] == ids["users"]["student4"]


@pytest.mark.every_moodle
def test_admin_saves_settings_tests_connection_and_opens_the_console(journey):
    site, sidecar = journey.site, journey.sidecar
    # A wrong secret first: Test connection names the problem.
    site.set_config("secret", "not-the-sidecars-secret")
    page = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    page.goto(f"{site.url}/mod/quiz/accessrule/proctorpy/testconnection.php")
    problem = page.locator("#page-content .alert-danger").first.inner_text()
    assert "refuses the signature" in problem and sidecar.url in problem, problem
    journey.shot(page, "admin-test-connection-wrong-secret")

    page.goto(f"{site.url}/admin/settings.php?section={SECTION}")
    assert page.locator("h2", has_text="Webcam proctoring (proctorpy)").first.is_visible()
    # The page in the order an admin works: the sidecar and its secret, the note to save before testing, the
    # console's address, then what quizzes default to.
    def top(selector):
        return page.locator(selector).first.bounding_box()["y"]
    save_first = "#proctorpy-savefirst"
    assert "Save changes first" in page.inner_text(save_first)
    test_link = "#page-content a:has-text('Test connection')"
    assert page.get_attribute(test_link, "aria-describedby") == "proctorpy-savefirst"
    order = ["#id_s_quizaccess_proctorpy_sidecarurl", "#admin-secret", save_first, test_link,
             "#id_s_quizaccess_proctorpy_consoleurl", "#id_s_quizaccess_proctorpy_uploadmode",
             "#id_s_quizaccess_proctorpy_intervalmin", "#admin-consenttext"]
    tops = [top(selector) for selector in order]
    assert tops == sorted(tops), dict(zip(order, tops))
    assert "127.0.0.1" in page.inner_text("#admin-consoleurl"), "the console URL's description says why to set it"
    journey.shot(page, "admin-settings-page")
    page.fill("#id_s_quizaccess_proctorpy_sidecarurl", sidecar.url)
    # The secret is a password field behind Moodle's "click to edit" unmask widget.
    secret = page.locator("#id_s_quizaccess_proctorpy_secret")
    if not secret.is_visible():
        page.locator("[data-passwordunmask='edit'][data-target='id_s_quizaccess_proctorpy_secret'],"
                     " #admin-secret [data-passwordunmask='edit']").first.click()
    secret.fill(sidecar.secret)
    assert page.is_checked("#id_s_quizaccess_proctorpy_bypasscurlsecurity")
    journey.shot(page, "admin-settings-filled")
    page.click("#adminsettings button[type=submit]")
    page.wait_for_load_state()
    assert "Changes saved" in page.inner_text("#page-content")
    journey.shot(page, "admin-settings-saved")
    config = journey.config()
    assert config["sidecarurl"] == sidecar.url and config["secret"] == sidecar.secret
    # Moodle's own HTTP security is left at its defaults: the plugin's bypass is what reaches the sidecar.
    assert journey.psql("select value from mdl_config where name = 'curlsecurityblockedhosts'") != ""

    page.click("#page-content a:has-text('Test connection')")
    page.wait_for_url("**/testconnection.php")
    answer = page.locator("#page-content .alert-success").first.inner_text()
    assert "Connected to the sidecar at " + sidecar.url in answer, answer
    assert page.locator("#page-content .alert-danger").count() == 0
    journey.shot(page, "admin-test-connection-green")

    # The console, from Moodle: a signed single sign-on link that opens in a new tab.
    page.goto(f"{site.url}/admin/settings.php?section={SECTION}")
    with page.context.expect_page() as opened:
        page.click("#page-content a:has-text('Open the sidecar console')")
    console = opened.value
    console.wait_for_url(f"{sidecar.url}/console/")
    assert console.locator("h1").first.inner_text() == "Storage"
    assert "Admin User" in console.locator("header").inner_text()
    journey.shot(console, "admin-console-dashboard")
    page.context.close()


def sidecar_user_data(journey, user_id):
    """The sidecar's privacy export of a user as a ZipFile, or None when it holds nothing about them."""
    try:
        status, body = journey.sidecar.client.request("GET", f"/api/v1/users/{user_id}/data")
    except SidecarError as error:
        assert error.status == 404, error
        return None
    return zipfile.ZipFile(io.BytesIO(body))


def test_privacy_export_and_delete_reach_the_sidecar(journey, forwarded_attempt):
    # Export Barack Obama's data through Moodle's privacy API: the plugin's part holds the sidecar's archive.
    exported = journey.cli("privacy", "student1", "export")
    assert exported["contexts"], "the privacy API found no context of the plugin for student1"
    with zipfile.ZipFile(exported["zip"]) as outer:
        inner_names = [n for n in outer.namelist() if n.endswith("proctoring-data.zip")]
        assert inner_names, outer.namelist()
        inner = zipfile.ZipFile(io.BytesIO(outer.read(inner_names[0])))
    names = inner.namelist()
    assert "user.json" in names and "attempts.csv" in names, names
    assert str(forwarded_attempt.attempt) in inner.read("attempts.csv").decode()
    assert sum(n.lower().endswith((".png", ".jpg")) for n in names) >= 3, names

    # Delete the data of a student of their own (whose attempt no other journey reads), in a quiz of its own:
    # afterwards the sidecar holds nothing about them.
    leaving = journey.make_course("student", "leaving", "Joe", "Robinette", "biden/biden2.jpg")["user"]
    quiz = journey.proctored_quiz("Privacy (proctored)")
    attempt_id = journey.cli("attempt", quiz["quiz"], "leaving", ROSE, 2)["attempt"]
    assert sidecar_user_data(journey, leaving) is not None
    deleted = journey.cli("privacy", "leaving", "delete")
    assert deleted["deleted"], deleted
    with pytest.raises(SidecarError) as gone:
        journey.attempt_json(attempt_id)
    assert gone.value.status == 404
    left = sidecar_user_data(journey, leaving)
    assert left is None, f"the sidecar still holds data of the deleted user: {left.namelist()}"
    # The others' data stays.
    assert journey.attempt_json(forwarded_attempt.attempt)["shots"]


def test_privacy_export_and_delete_for_a_user_the_sidecar_never_saw(journey, course):
    # The teacher previews the quiz: an attempt in Moodle, exempt from proctoring, so unknown to the sidecar.
    journey.cli("attempt", course["quiz"], "teacher", OBAMA[0], 0)
    teacher = course["users"]["teacher"]
    assert sidecar_user_data(journey, teacher) is None
    exported = journey.cli("privacy", "teacher", "export")
    assert exported["contexts"], "the privacy API found no context of the plugin for the teacher's preview"
    assert exported["zip"]
    journey.cli("privacy", "teacher", "delete")


@pytest.mark.every_moodle
def test_no_page_showed_debugging_output_and_no_log_has_errors(browsers, journey):
    # The check itself sees what Moodle prints.
    page = browsers.browser("student1", "staff").new_page()
    page.set_content('<div class="debuggingmessage">Debug info: x</div><p><b>Notice</b>: Undefined variable $y in</p>')
    assert len(debugging_output(page)) == 3, debugging_output(page)
    page.close()
    # A page of the site, so that the check reads at least one even when it runs alone.
    admin = journey.login("admin", moodle_site.ADMIN_PASSWORD)
    admin.goto(f"{journey.site.url}/mod/quiz/accessrule/proctorpy/testconnection.php")
    journey.shot(admin, "admin-test-connection-at-the-end")
    admin.context.close()
    assert browsers.screenshots, "no page was looked at"
    # What the journeys that ran so far showed: no page with debugging output; nothing in PHP's error log or said on
    # stderr by php-fpm's workers (what AJAX calls and redirects raise never shows on a page); no failure of the
    # sidecar, nor a refusal beyond the expected ones. The session's end checks the same for every journey.
    assert browsers.debugging == [], browsers.debugging
    php_errors = browsers.php_log_problems()
    assert php_errors == [], "\n".join(php_errors[:20])
    assert browsers.sidecar_problems() == []
    records = [line for line in journey.sidecar.log.read_text().splitlines() if line.startswith('{"at"')]
    assert records, "the sidecar logged no request"
