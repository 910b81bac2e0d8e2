"""One installation, one Moodle site: the site learnt from signed calls and other sites refused, the
`proctorpy site` command, and the marker that keeps two installations off one bucket prefix."""
import json
import secrets

import pytest
from click.testing import CliRunner

from conftest import SECRET, attempt_fields, config_env, settings_env
from sidecar import create_app, installation
from sidecar.cli import cli
from sidecar.config import load_config
from sidecar.db import connect
from sidecar.signing import signed_headers
from sidecar.views.connections import close_app

SITE = "1f3a9c0e6b2d4f8a7c5e3b1d9f0a2c4e" + "moodle.example.edu"
OTHER_SITE = "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a" + "moodle.other.example.edu"


def call(client, method, path, payload=None, site="", headers=None):
    body = json.dumps(payload).encode() if payload is not None else b""
    signed = signed_headers(SECRET, method, path, body, site=site)
    signed.update(headers or {})
    return client.open(path, method=method, data=body, headers=signed,
                       content_type="application/json" if payload is not None else None)


def served_site(app):
    db = connect(app.config["DATABASE"])
    try:
        return installation.moodle_site(db)
    finally:
        db.close()


@pytest.mark.engines
def test_the_first_call_naming_a_site_teaches_it_and_another_site_is_refused(app, client):
    assert call(client, "PUT", "/api/v1/attempts/1", attempt_fields(1)).status_code in (200, 201)  # no site: as before
    assert served_site(app) is None
    assert call(client, "GET", "/api/v1/ping", site=SITE).status_code == 200  # Test connection teaches it
    assert served_site(app) == SITE
    assert call(client, "GET", "/api/v1/attempts/1", site=SITE).status_code == 200
    refused = call(client, "GET", "/api/v1/attempts/1", site=OTHER_SITE)
    assert refused.status_code == 409 and refused.json["error"] == "site_mismatch"
    assert SITE in refused.json["message"] and OTHER_SITE in refused.json["message"]
    second = call(client, "PUT", "/api/v1/attempts/1", attempt_fields(1, user_id=99), site=OTHER_SITE)
    assert second.status_code == 409
    assert call(client, "GET", "/api/v1/attempts/1", site=SITE).json["attempt"]["user_id"] == 7  # nothing mixed in
    # Scripts and scrapers that hold the secret and name no site are served as before.
    assert call(client, "GET", "/api/v1/ping").status_code == 200


def test_the_site_is_signed_and_cannot_be_swapped_on_the_way(app, client):
    call(client, "GET", "/api/v1/ping", site=SITE)
    swapped = call(client, "GET", "/api/v1/ping", site=OTHER_SITE, headers={"X-Proctorpy-Site": SITE})
    assert swapped.status_code == 401 and swapped.json["error"] == "bad_signature"
    unreadable = call(client, "GET", "/api/v1/ping", site="x" * 256)
    assert unreadable.status_code == 401 and unreadable.json["error"] == "bad_site"
    assert "at most 255 characters" in unreadable.json["message"]


@pytest.mark.engines
def test_site_command_shows_and_forgets_the_site(app, client, config):
    env = {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(config.data_dir), **config_env(config)}
    runner = CliRunner()
    fresh = runner.invoke(cli, ["site"], env=env)
    assert fresh.exit_code == 0 and "none learnt yet" in fresh.output, fresh.output
    call(client, "GET", "/api/v1/ping", site=SITE)
    shown = runner.invoke(cli, ["site"], env=env)
    assert f"Moodle site: {SITE}" in shown.output
    forgotten = runner.invoke(cli, ["site", "--forget"], env=env)
    assert forgotten.exit_code == 0 and "forgotten" in forgotten.output
    assert call(client, "GET", "/api/v1/ping", site=OTHER_SITE).status_code == 200
    assert served_site(app) == OTHER_SITE
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT detail FROM audit_log WHERE action = 'moodle_site_forget'").fetchone()[0] \
        == f"forgot Moodle site {SITE}"
    db.close()


def test_a_second_installation_on_the_same_bucket_prefix_refuses_to_start(tmp_path, seaweedfs):
    shared = seaweedfs.settings(f"test-{secrets.token_hex(6)}/")
    first = load_config(environ={}, overrides={"storage.data_dir": str(tmp_path / "first"), "security.secret": SECRET,
                                               **shared})
    app = create_app(first)
    own_id = app.config["IMAGES"].get(installation.MARKER).decode()
    close_app(app)
    close_app(create_app(first))  # the same installation starts again
    second = load_config(environ={}, overrides={"storage.data_dir": str(tmp_path / "second"), "security.secret": SECRET,
                                                **shared})
    with pytest.raises(installation.InstallationConflict, match=f"belongs to another installation \\(id {own_id};"):
        create_app(second)
    env = {"PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(tmp_path / "second"), **settings_env(shared)}
    refused = CliRunner().invoke(cli, ["init"], env=env)
    assert refused.exit_code == 1 and "proctorpy does not start" in refused.output and own_id in refused.output
    checked = CliRunner().invoke(cli, ["check"], env=env)
    assert checked.exit_code == 1
    assert f"PROBLEM images: the s3 bucket {shared['storage.s3.bucket']}" in checked.output
    assert "belongs to another installation" in checked.output and "storage.s3.prefix" in checked.output
    # A prefix of its own is fine.
    elsewhere = load_config(environ={}, overrides={**second, **seaweedfs.settings(f"test-{secrets.token_hex(6)}/")})
    close_app(create_app(elsewhere))
