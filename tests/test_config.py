"""Settings as data: every setting documented, every override typed, every error named."""
import re
from pathlib import Path

import pytest

from sidecar.config import DEFAULTS, SETTINGS, ConfigError, example_toml, load_config

REPO = Path(__file__).resolve().parents[1]


def test_example_file_documents_every_setting_with_its_default():
    assert (REPO / "config.example.toml").read_text() == example_toml(), \
        "config.example.toml is stale: regenerate it with sidecar.config.example_toml()"
    loaded = load_config(path=REPO / "config.example.toml", environ={})
    assert dict(loaded) == DEFAULTS


def test_every_setting_read_in_code_is_declared():
    read = set()
    for path in (REPO / "sidecar").rglob("*.py"):
        read.update(re.findall(r"""\[["']([a-z_]+(?:\.[a-z_0-9]+)+)["']\]""", path.read_text()))
    undeclared = sorted(read - set(DEFAULTS))
    assert not undeclared, f"settings read in code but not declared in SETTINGS: {undeclared}"


def test_every_setting_has_help():
    assert all(s.help and s.help[0].isupper() for s in SETTINGS)


def test_file_then_environment_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[storage]\nmax_width = 480\n')
    config = load_config(path=path, environ={"PROCTORPY_SERVER_PORT": "9100", "PROCTORPY_STORAGE_FSYNC": "off"},
                         overrides={"storage.max_width": 320})
    assert config["server.port"] == 9100
    assert config["server.host"] == "0.0.0.0"
    assert config["storage.fsync"] is False
    assert config["storage.max_width"] == 320


def test_config_path_from_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[analysis]\nmatch_threshold = 0.5\n")
    assert load_config(environ={"PROCTORPY_CONFIG": str(path)})["analysis.match_threshold"] == 0.5


@pytest.mark.parametrize("text, message", [
    ("[server]\nport = 'eighty'\n", "server.port must be int"),
    ("[server]\nprot = 80\n", "unknown setting server.prot"),
    ("[direct]\nmax_shots_per_minute = 60\n",
     "unknown setting direct.max_shots_per_minute: it is now capture.max_shots_per_minute"),
    ("[server\nport = 80\n", "not valid TOML"),
    ("server = 3\n", "must be a [section] table"),
    ("[analysis]\nmodel = 'retina'\n", "analysis.model must be hog or cnn"),
    ("[retention]\nrun_at = '25:00'\n", "retention.run_at"),
    ("[storage]\nmax_width = 0\n", "storage.max_width must be greater than 0"),
])
def test_bad_config_names_the_key(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path=path, environ={})


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="PROCTORPY_SERVER_PORT: server.port must be int"):
        load_config(environ={"PROCTORPY_SERVER_PORT": "x"})


def test_missing_config_file_is_one_line():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(path="/nonexistent/proctorpy.toml", environ={})


def test_undeclared_setting_is_a_programming_error():
    with pytest.raises(KeyError):
        load_config(environ={})["storage.nope"]


def test_a_renamed_setting_in_the_environment_names_its_new_name():
    with pytest.raises(ConfigError, match=re.escape(
            "PROCTORPY_DIRECT_MAX_EVENTS_PER_MINUTE: unknown setting direct.max_events_per_minute: it is now "
            "capture.max_events_per_minute")):
        load_config(environ={"PROCTORPY_DIRECT_MAX_EVENTS_PER_MINUTE": "200"})


def test_the_object_store_settings_from_a_table_and_the_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[storage]\nbackend = "s3"\n[storage.s3]\nendpoint = "http://127.0.0.1:8333"\n'
                    'bucket = "exams"\nprefix = "proctorpy/"\n')
    config = load_config(path=path, environ={"PROCTORPY_STORAGE_S3_SECRET_KEY": "from-env",
                                             "PROCTORPY_STORAGE_S3_BUCKET": "exams-2026"})
    assert config["storage.backend"] == "s3" and config["storage.s3.endpoint"] == "http://127.0.0.1:8333"
    assert config["storage.s3.bucket"] == "exams-2026" and config["storage.s3.secret_key"] == "from-env"
    assert config["storage.s3.prefix"] == "proctorpy/" and config["storage.s3.region"] == "us-east-1"


@pytest.mark.parametrize("settings, message", [
    ({"storage.backend": "s3"}, "storage.s3.bucket is empty"),
    ({"storage.backend": "nfs"}, 'storage.backend must be "folder" or "s3"'),
    ({"storage.backend": "s3", "storage.s3.bucket": "b", "storage.s3.endpoint": "s3.example.edu"},
     "storage.s3.endpoint must be an http:// or https:// URL"),
])
def test_object_store_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ={}, overrides=settings)


def test_an_unknown_key_in_the_object_store_table_is_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[storage.s3]\nbukket = "exams"\n')
    with pytest.raises(ConfigError, match="unknown setting storage.s3.bukket"):
        load_config(path=path, environ={})
