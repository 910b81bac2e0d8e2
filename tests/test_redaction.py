"""Passwords never printed: database URLs in `proctorpy check`, errors and descriptions."""
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import POSTGRESQL_SERVER, postgresql_database
from sidecar.cli import cli
from sidecar.db import connect, describe, migrate
from sidecar.errors import DatabaseUnavailable
from sidecar.redaction import redact_text, redact_url

PASSWORD = "se/cr3t-pa55"  # a slash, as password generators like to write


@pytest.mark.parametrize("url, shown", [
    ("postgresql://u:se%2Fcr3t@db.example.edu:5432/proctorpy", "postgresql://u:***@db.example.edu:5432/proctorpy"),
    ("postgresql://u:se/cr@t@db.example.edu/proctorpy", "postgresql://u:***@db.example.edu/proctorpy"),
    ("postgresql://u@db.example.edu/proctorpy?sslmode=require&password=se/cr3t",
     "postgresql://u@db.example.edu/proctorpy?sslmode=require&password=***"),
    ("postgresql://db.example.edu/proctorpy?PASSWORD=x&user=u", "postgresql://db.example.edu/proctorpy?PASSWORD=***&user=u"),
    ("postgresql://u@db.example.edu/proctorpy", "postgresql://u@db.example.edu/proctorpy"),
    ("/srv/proctorpy/proctorpy.db", "/srv/proctorpy/proctorpy.db"),
])
def test_passwords_are_taken_out_of_urls(url, shown):
    assert redact_url(url) == shown
    assert describe(url) == shown


def test_a_library_message_loses_the_password_as_typed_and_decoded():
    url = "postgresql://u:se%2Fcr3t@h/db?password=other"
    assert redact_text("bad: se%2Fcr3t, se/cr3t, other", url) == "bad: ***, ***, ***"


def check(url):
    return CliRunner().invoke(cli, ["check"], env={"PROCTORPY_DATABASE_URL": url, "PROCTORPY_SECRET": "x" * 32})


def server_with_password(name, where):
    """A URL of the test server's database name carrying PASSWORD (the server trusts the user, so it is
    sent and ignored) in the user part, percent-encoded, or as ?password=."""
    scheme, _, host = POSTGRESQL_SERVER.partition("://")
    user, _, address = host.rpartition("@")
    if where == "user part":
        return f"{scheme}://{user}:{PASSWORD.replace('/', '%2F')}@{address}/{name}"
    return f"{POSTGRESQL_SERVER}/{name}?password={PASSWORD}"


@pytest.mark.parametrize("where", ["user part", "query"])
def test_check_never_prints_the_database_password(tmp_path, where):
    with postgresql_database() as plain:
        database = connect(plain)
        migrate(database)
        database.close()
        name = plain.rsplit("/", 1)[1]
        healthy = check(server_with_password(name, where))
        assert "database: ok (postgresql, " in healthy.output and "***" in healthy.output, healthy.output
        missing = check(server_with_password(name + "_missing", where))
        assert "PROBLEM database: PostgreSQL at " in missing.output and "***" in missing.output, missing.output
        for output in (healthy.output, missing.output):
            assert PASSWORD not in output and PASSWORD.replace("/", "%2F") not in output


def test_an_unreadable_database_url_is_refused_without_its_password():
    with pytest.raises(DatabaseUnavailable) as refused:
        connect(f"postgresql://u:{PASSWORD.replace('/', '%2F')}@127.0.0.1:1/db?no_such_option=1")
    assert "cannot read database.url postgresql://u:***@127.0.0.1:1/db" in str(refused.value)
    assert "cr3t" not in str(refused.value)


def test_a_slash_left_unencoded_in_the_password_is_a_configuration_error_that_does_not_print_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "check"], capture_output=True, text=True,
                            env={"PROCTORPY_DATABASE_URL": f"postgresql://proctorpy:{PASSWORD}@127.0.0.1:5432/proctorpy",
                                 "PROCTORPY_STORAGE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin"})
    assert result.returncode == 2
    assert "percent-encode (%2F" in result.stderr and PASSWORD not in result.stdout + result.stderr
    assert "cr3t" not in result.stdout + result.stderr
