"""One vocabulary for both halves: the plugin's lists and the report's labels are the words of the
OpenAPI document the sidecar serves, which the domain modules' constants build."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from sidecar import attempts, live, package_version
from sidecar.attempts import EVENT_TYPES
from sidecar.config import DEFAULTS
from sidecar.reports.report import EVENT_LABELS, METRIC_LABELS
from sidecar.scoring import METRICS

PLUGIN = Path(__file__).resolve().parents[1] / "moodle_plugin" / "quizaccess_proctorpy"
CAPTURE_SCRIPTS = sorted((PLUGIN / "amd" / "src").glob("*.js"))


@pytest.fixture(scope="module")
def plugin_vocabulary():
    """The constants of the plugin's vocabulary class, read by PHP itself."""
    script = (f"require {json.dumps(str(PLUGIN / 'classes' / 'vocabulary.php'))};"
              "echo json_encode((new ReflectionClass('quizaccess_proctorpy\\vocabulary'))->getConstants());")
    result = subprocess.run(["php", "-r", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def served(api):
    return api.get("/api/v1/openapi.json").json


def body_schema(document, path, media):
    return document["paths"][path]["post"]["requestBody"]["content"][media]["schema"]["properties"]


def test_every_plugin_constant_is_compared(plugin_vocabulary):
    assert set(plugin_vocabulary) == {"EVENT_TYPES", "CAMSHOT_KINDS", "CLIENT_KEY_MAX_LENGTH", "LIVE_VERDICTS",
                                      "LIVE_PROBLEMS", "CAPTURE_EARLIEST_BEFORE_START", "CAPTURE_LATEST_AHEAD"}


def test_plugin_and_sidecar_take_the_same_capture_times(plugin_vocabulary):
    assert plugin_vocabulary["CAPTURE_EARLIEST_BEFORE_START"] == attempts.EARLIEST_BEFORE_START
    assert plugin_vocabulary["CAPTURE_LATEST_AHEAD"] == attempts.LATEST_AHEAD


def test_plugin_live_words_are_the_served_ones(plugin_vocabulary, served):
    described = served["paths"]["/api/v1/quizzes/{quiz_id}/live"]["get"]["summary"]
    assert plugin_vocabulary["LIVE_VERDICTS"] == list(live.VERDICTS), "vocabulary.php and sidecar/live.py differ"
    assert plugin_vocabulary["LIVE_PROBLEMS"] == list(live.PROBLEMS), "vocabulary.php and sidecar/live.py differ"
    assert ", ".join(live.VERDICTS) in described and ", ".join(live.PROBLEMS) in described


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/direct/events"])
def test_plugin_event_types_are_the_served_ones(plugin_vocabulary, served, path):
    fields = body_schema(served, path, "application/json")
    assert plugin_vocabulary["EVENT_TYPES"] == fields["type"]["enum"], f"vocabulary.php and {path} differ"
    assert plugin_vocabulary["CLIENT_KEY_MAX_LENGTH"] == fields["client_event_id"]["maxLength"]


@pytest.mark.parametrize("path", ["/api/v1/camshots", "/api/v1/direct/camshots"])
def test_plugin_camshot_kinds_are_the_served_ones(plugin_vocabulary, served, path):
    fields = body_schema(served, path, "multipart/form-data")
    assert plugin_vocabulary["CAMSHOT_KINDS"] == fields["kind"]["enum"], f"vocabulary.php and {path} differ"
    assert plugin_vocabulary["CLIENT_KEY_MAX_LENGTH"] == fields["client_shot_id"]["maxLength"]


def test_capture_script_reports_only_served_event_types(served):
    reported = set()
    for script in CAPTURE_SCRIPTS:
        text = script.read_text()
        reported |= set(re.findall(r"\bevent\('([a-z_]+)'\)", text)) | set(re.findall(r"\btype: '([a-z_]+)'", text))
    assert "direct_fallback" in reported
    assert reported <= set(body_schema(served, "/api/v1/events", "application/json")["type"]["enum"])


def test_report_labels_every_event_type_and_metric():
    assert set(EVENT_LABELS) == set(EVENT_TYPES)
    assert set(METRIC_LABELS) == set(METRICS)


def test_the_score_threshold_has_one_default():
    """An attempt whose quiz names no threshold is flagged where the plugin's quiz form would have flagged it."""
    site_setting = re.search(r"admin_setting_configtext\(\s*'quizaccess_proctorpy/threshold',.*?,\s*(\d+),\s*PARAM_INT\s*\)",
                             (PLUGIN / "settings.php").read_text(), re.S)
    quiz_default = re.search(r"'threshold' => \(int\) \(\$siteconfig->threshold \?\? (\d+)\)",
                             (PLUGIN / "classes" / "proctoring_settings.php").read_text())
    assert site_setting and quiz_default, "the plugin's threshold defaults are no longer where this test reads them"
    assert int(site_setting[1]) == int(quiz_default[1]) == DEFAULTS["scoring.threshold"]


def test_both_halves_are_one_release():
    """The sidecar and the plugin are released and tested together: Test connection compares their releases."""
    plugin_release = re.search(r"\$plugin->release = '([^']+)';", (PLUGIN / "version.php").read_text())[1]
    sidecar_release = re.search(r"^version = (\S+)$", (PLUGIN.parents[1] / "setup.cfg").read_text(), re.M)[1]
    assert sidecar_release == plugin_release
    assert package_version() == sidecar_release, "the installed sidecar is this release: run make install again"
