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
    return php_json(f"require {json.dumps(str(PLUGIN / 'classes' / 'vocabulary.php'))};"
                    "echo json_encode((new ReflectionClass('quizaccess_proctorpy\\vocabulary'))->getConstants());")


def php_json(script):
    """What a PHP script echoes as JSON, decoded."""
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


# The teacher's words, one meaning each: "flagged" is an attempt whose score is under the quiz's threshold (or whose
# profile photo changed); a camshot is "counted against the score"; the live view's attempts "need attention now".
# Each pattern is a use of the old, ambiguous words, with the words that replace it.
OLD_USES = {
    r"\bflagged (camshots?|photos?|images?)\b": "a camshot is counted against the score, not flagged",
    r"\(\d+ flagged\)|flagged_count": "camshots are counted against the score, not flagged",
    r"\bflagged only\s*[(:]": "only the attempts are flagged; camshots are counted against the score",
    r"\b(with )?a problem now\b": "an attempt in progress needs attention now",
    r"\bE = |\bsubstitution\b": "the formula is written with the table's labels (Score, Another student)",
    r"\bd \d\.\d\d\b|\bd {{": "a face distance is named as such",
}
TEACHER_TEXTS = [*sorted((PLUGIN.parents[1] / "sidecar" / "reports" / "templates").glob("*.html")),
                 PLUGIN.parents[1] / "docs" / "teacher-guide.md"]


@pytest.fixture(scope="module")
def plugin_strings():
    """The plugin's language strings, read by PHP itself."""
    return php_json(f"define('MOODLE_INTERNAL', 1); $string = []; "
                    f"require {json.dumps(str(PLUGIN / 'lang' / 'en' / 'quizaccess_proctorpy.php'))};"
                    "echo json_encode($string);")


def old_uses(text):
    return [(found.group(0), instead) for pattern, instead in OLD_USES.items()
            for found in re.finditer(pattern, text, re.I)]


def test_language_strings_speak_the_teachers_vocabulary(plugin_strings):
    wrong = {key: old_uses(value) for key, value in plugin_strings.items() if old_uses(value)}
    assert wrong == {}
    # The live view flags nothing of its own: only the score under the threshold is "flagged" there too.
    live = {key: value for key, value in plugin_strings.items() if key.startswith("live")}
    assert [key for key, value in live.items() if re.search(r"\bflag", value, re.I)] == ["live_problem_below_threshold"]
    assert "score below the threshold" in live["live_problem_below_threshold"]
    assert all(re.search(r"\bneed(s|ing)? attention now\b", live[key])
               for key in ("liveflaggedonly", "livesummary", "livesummaryone", "livenoneflagged"))
    # What Accept or Reject does, on the page where the teacher chooses.
    assert "does not change the attempt's grade" in plugin_strings["reviewexplained"]


@pytest.mark.parametrize("path", TEACHER_TEXTS, ids=lambda path: path.name)
def test_reports_and_guide_speak_the_teachers_vocabulary(path):
    text = path.read_text()
    if path.suffix == ".html":
        text = re.sub(r"<style>.*?</style>|\{%-? *macro report_css.*?endmacro *-?%\}", "", text, flags=re.S)
    assert old_uses(text) == []


def test_the_old_uses_are_refused():
    """The patterns catch what the pages said before one vocabulary."""
    for old in ("Flagged only (5 of 21)", "Flagged camshots (5)", "21 (5 flagged)", "d 0.87",
                "Flagged only: attempts with a problem now", "2 attempts in progress, 1 with a problem now.",
                "E = max(0, 100 − (3 × 4.2 % substitution))"):
        assert old_uses(old), old
    for new in ("Only those counted against the score (5 of 21)", "Camshots counted against the score (5)",
                "distance 0.87", "Only the attempts that need attention now", "Flagged: score below the threshold",
                "Score = max(0, 100 − (3 × 4.2 % Another student))"):
        assert old_uses(new) == [], new
