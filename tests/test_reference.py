"""The reference an attempt is judged against: frozen with the attempt, changes of the profile photo as problems,
the identity check failing closed without a reference, and the teacher's decision on the identity photo."""
import io
import re
import subprocess
import time
import zipfile

import pytest

from conftest import face_bytes, post_identity, query, stored_keys
from sidecar.analysis.worker import work
from sidecar.client import multipart

DAY = 86400


def put_reference(api, user_id, relative, changed_at=None):
    fields = {} if changed_at is None else {"changed_at": int(changed_at)}
    body, ctype = multipart(fields, {"image": ("profile.jpg", face_bytes(relative, fmt="JPEG"), "image/jpeg")})
    return api.open("PUT", f"/api/v1/users/{user_id}/reference", body, ctype)


def post_shots(api, *relatives, attempt_id=1, first_second=300):
    ids = []
    for number, relative in enumerate(relatives):
        response = api.post_camshot(face_bytes(relative, width=640), attempt_id=attempt_id,
                                    taken_at=int(time.time() * 1000) - first_second * 1000 + number * 30_000)
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    return ids


def verdicts(api, attempt_id=1):
    return {s["id"]: (s["status"], s["distance"]) for s in api.get(f"/api/v1/attempts/{attempt_id}").json["shots"]}


def decide(api, decision, camshot_id, attempt_id=1):
    return api.json("POST", f"/api/v1/attempts/{attempt_id}/identity/{decision}",
                    {"camshot_id": camshot_id, "actor_id": 5, "actor_name": "Grace Hopper"})


# --- the reference frozen with the attempt --------------------------------------------------

def test_profile_photo_swapped_before_the_attempt_and_restored_after_changes_nothing_it_was_judged_by(app, api, config,
                                                                                                  tmp_path):
    """The student sets an accomplice's face as profile picture, the accomplice sits the attempt, the student
    restores their own picture: the report still shows the accomplice's face as what the attempt was judged against,
    beside today's picture, and no verdict moves."""
    put_reference(api, 7, "obama/obama.jpg", changed_at=time.time() - 400 * DAY)  # the student, long ago
    api.put_attempt(1, identity_check="match")
    accomplice = put_reference(api, 7, "biden/biden.jpg").json
    assert accomplice["change_distance"] > config["analysis.match_threshold"]
    assert post_identity(api, "biden/biden2.jpg").json["passed"] is True
    before = post_shots(api, "biden/biden2.jpg", "biden/biden.jpg")
    work(config, until_idle=True)
    judged = verdicts(api)
    assert {judged[i][0] for i in before} == {"ok"}

    restored = put_reference(api, 7, "obama/obama.jpg").json
    after = post_shots(api, "biden/biden2.jpg", first_second=200)
    work(config, until_idle=True)
    now = verdicts(api)
    assert {i: now[i] for i in before} == {i: judged[i] for i in before}  # nothing analysed again
    assert now[after[0]][0] == "ok"  # still judged against the frozen photo, not today's

    listed = {r["role"]: r["id"] for r in api.get("/api/v1/attempts/1").json["references"]}
    assert listed["profile_today"] == restored["id"] and listed["judged_against"] not in (restored["id"],
                                                                                         accomplice["id"])
    frozen_image = app.config["IMAGES"].get(query(app, "SELECT path FROM reference_photos WHERE id = ?",
                                                 [listed["judged_against"]])[0][0])
    assert frozen_image  # its own copy: the accomplice's photo was replaced in the profile
    html = api.get("/api/v1/attempts/1/report?image_base=/img/").get_data(as_text=True)
    assert re.search(rf'/img/{listed["judged_against"]}\?size=thumb" alt="Judged against', html)
    assert re.search(rf'/img/{restored["id"]}\?size=thumb" alt="Moodle profile photo today, not the one judged', html)
    (tmp_path / "report.pdf").write_bytes(api.get("/api/v1/attempts/1/report.pdf").data)
    text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    text = " ".join(text.split())  # captions wrap in their narrow figures
    assert "Judged against" in text and "Moodle profile photo today" in text
    assert "Profile photo changed to another person" in text


def test_report_shows_today_s_profile_photo_only_when_it_differs(api, config):
    put_reference(api, 7, "obama/obama.jpg")
    api.put_attempt(1, identity_check="match")
    post_identity(api, "obama/obama1.jpg")
    put_reference(api, 7, "obama/obama.jpg")  # Moodle sends the same picture at the next attempt
    roles = [r["role"] for r in api.get("/api/v1/attempts/1").json["references"]]
    assert sorted(roles) == ["identity", "judged_against", "profile_today"]
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "Judged against" in html and "profile photo today" not in html


# --- profile photo changes --------------------------------------------------------------------

def test_profile_photo_of_another_person_is_a_problem_that_flags_the_attempt(app, api, config):
    put_reference(api, 7, "obama/obama.jpg", changed_at=time.time() - 400 * DAY)
    api.put_attempt(1, identity_check="match", threshold=10)
    put_reference(api, 7, "biden/biden.jpg", changed_at=time.time() - 100 * DAY)  # over the recent-change days
    assert post_identity(api, "biden/biden2.jpg").json["passed"] is True
    post_shots(api, *["biden/biden2.jpg"] * 3)
    work(config, until_idle=True)

    detail = api.get("/api/v1/attempts/1").json
    assert detail["score"]["value"] > 10 and detail["score"]["flagged"] is True  # above its threshold, flagged
    assert detail["score"]["metrics"]["reference_changes"] == ["another_person"]
    (change,) = detail["identity"]["reference_changes"]
    assert change["kind"] == "another_person" and change["distance"] > config["analysis.match_threshold"]
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "Profile photo changed to another person" in html
    (row,) = api.get("/api/v1/quizzes/11/attempts").json["attempts"]
    assert row["flagged"] is True and row["reference_changes"] == ["Profile photo changed to another person"]
    assert "Profile photo changed to another person" in api.get("/api/v1/quizzes/11/attempts?format=csv").get_data(
        as_text=True)
    (tile,) = api.get("/api/v1/quizzes/11/live").json["attempts"]
    assert tile["reference_changed"] is True and tile["problems"][0] == "reference_changed"


@pytest.mark.parametrize("days_ago, problem", [(3, ["recent_change"]), (30, [])])
def test_change_of_the_same_person_is_a_problem_within_the_recent_change_days(api, config, days_ago, problem):
    put_reference(api, 7, "obama/obama.jpg", changed_at=time.time() - 400 * DAY)
    api.put_attempt(1, identity_check="match", threshold=0)  # no score is under it: only a problem flags
    put_reference(api, 7, "obama/obama1.jpg", changed_at=time.time() - days_ago * DAY)
    assert post_identity(api, "obama/obama2.jpg").json["passed"] is True
    detail = api.get("/api/v1/attempts/1").json
    assert [c["kind"] for c in detail["identity"]["reference_changes"]] == problem
    assert detail["score"]["flagged"] is bool(problem)


def test_change_during_a_running_attempt_is_its_problem(api, config):
    put_reference(api, 7, "obama/obama.jpg", changed_at=time.time() - 400 * DAY)
    api.put_attempt(1, identity_check="match")
    post_identity(api, "obama/obama1.jpg")
    put_reference(api, 7, "obama/obama2.jpg")
    identity = api.get("/api/v1/attempts/1/identity").json
    assert [c["kind"] for c in identity["problems"]] == ["recent_change"]


def test_first_profile_photo_is_no_change(api):
    api.put_attempt(1, identity_check="match")
    assert put_reference(api, 7, "obama/obama.jpg").json["change_distance"] is None
    post_identity(api, "obama/obama1.jpg")
    assert api.get("/api/v1/attempts/1/identity").json["problems"] == []


@pytest.mark.parametrize("changed_at", ["soon", "-5", "in an hour"])
def test_a_profile_photo_change_time_must_be_a_past_unix_time(api, changed_at):
    if changed_at == "in an hour":
        changed_at = str(int(time.time()) + 3600)
    body, ctype = multipart({"changed_at": changed_at},
                            {"image": ("profile.jpg", face_bytes("obama/obama.jpg", fmt="JPEG"), "image/jpeg")})
    response = api.open("PUT", "/api/v1/users/7/reference", body, ctype)
    assert response.status_code == 400 and response.json["error"] == "invalid_field"
    assert "changed_at" in response.json["message"]


# --- no reference: fail closed, the teacher decides ---------------------------------------------

def test_no_reference_and_must_match_refuses_until_a_teacher_approves_the_photo(app, api, config):
    api.put_attempt(1, identity_check="match")
    answer = post_identity(api, "obama/obama1.jpg").json
    assert answer["passed"] is False and answer["reference"] == "none"
    assert "no usable profile photo" in answer["message"]
    state = api.get("/api/v1/attempts/1/identity").json
    assert state["passed"] is False and state["reference"] == "none" and state["photo"]["id"] == answer["id"]
    assert query(app, "SELECT count(*) FROM reference_photos") == [(0,)]  # an unmatched face becomes nothing
    html = api.get("/api/v1/attempts/1/report").get_data(as_text=True)
    assert "No reference:" in html and "A teacher can approve the identity photo" in html

    approved = decide(api, "approve", answer["id"])
    assert approved.status_code == 200, approved.json
    assert approved.json["passed"] is True and approved.json["decision"] == "approved"
    assert approved.json["reference"] == "frozen"
    assert query(app, "SELECT action, actor_id, actor_name FROM audit_log WHERE action IN ('identity_approve', 'identity_refuse')") == [
        ("identity_approve", "5", "Grace Hopper")]
    # The photo is now the attempt's reference, and the student's.
    assert sorted(r[0] for r in query(app, "SELECT source FROM reference_photos")) == ["identity", "profile"]
    same, other = post_shots(api, "obama/obama2.jpg", "biden/biden.jpg")
    work(config, until_idle=True)
    judged = verdicts(api)
    assert judged[same][0] == "ok" and judged[other][0] == "mismatch"
    again = decide(api, "approve", answer["id"])
    assert again.status_code == 409 and again.json["error"] == "already_decided"


def test_a_refused_identity_photo_keeps_the_step_closed(app, api):
    api.put_attempt(1, identity_check="match")
    photo = post_identity(api, "obama/obama1.jpg").json["id"]
    refused = decide(api, "refuse", photo)
    assert refused.status_code == 200 and refused.json["decision"] == "refused" and refused.json["passed"] is False
    assert query(app, "SELECT action, actor_name FROM audit_log WHERE action IN ('identity_approve', 'identity_refuse')") == [
        ("identity_refuse", "Grace Hopper")]
    again = post_identity(api, "obama/obama2.jpg")
    assert again.status_code == 409 and again.json["error"] == "identity_refused"
    assert decide(api, "approve", photo).json["error"] == "already_decided"


def test_decisions_refuse_forged_and_unknown_ids(api):
    api.put_attempt(1, identity_check="match")
    api.put_attempt(2, user_id=8, identity_check="match")
    photo = post_identity(api, "obama/obama1.jpg").json["id"]
    other = post_identity(api, "biden/biden.jpg", attempt_id=2, user_id=8).json["id"]
    shot = post_shots(api, "obama/obama2.jpg")[0]
    cases = [
        (decide(api, "approve", "../../etc/passwd"), 400, "invalid_field"),
        (decide(api, "approve", 12345), 400, "invalid_field"),
        (decide(api, "refuse", "0" * 20), 404, "unknown_camshot"),
        (decide(api, "approve", other), 404, "unknown_camshot"),  # another attempt's photo
        (decide(api, "approve", shot), 404, "unknown_camshot"),  # a camshot of the attempt, not its identity photo
        (decide(api, "approve", photo, attempt_id=99), 404, "unknown_attempt"),
        (api.json("POST", "/api/v1/attempts/1/identity/approve", {}), 400, "missing_field"),
        (api.json("POST", "/api/v1/attempts/x/identity/refuse", {"camshot_id": photo}), 400, "invalid_field"),
        (api.get("/api/v1/attempts/99/identity"), 404, "unknown_attempt"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json["error"]) == (status, code), response.json


def test_no_decision_on_an_attempt_with_a_reference(api):
    put_reference(api, 7, "obama/obama.jpg")
    api.put_attempt(1, identity_check="match")
    photo = post_identity(api, "biden/biden.jpg").json["id"]
    response = decide(api, "approve", photo)
    assert response.status_code == 409 and response.json["error"] == "no_decision_needed"


# --- the frozen copy goes with the attempt --------------------------------------------------------

@pytest.mark.engines
def test_frozen_reference_is_exported_and_purged_with_its_attempt(app, api):
    put_reference(api, 7, "obama/obama.jpg")
    api.put_attempt(1, identity_check="match")
    post_identity(api, "obama/obama1.jpg")
    frozen = [r["id"] for r in api.get("/api/v1/attempts/1").json["references"] if r["role"] == "judged_against"][0]

    names = zipfile.ZipFile(io.BytesIO(api.get("/api/v1/users/7/data").data)).namelist()
    assert f"course-3/quiz-11/attempt-1/judged_against_{frozen}.png" in names
    selection = zipfile.ZipFile(io.BytesIO(api.json("POST", "/api/v1/exports", {"attempt_id": 1}).data))
    assert f"course-3/quiz-11/attempt-1/judged_against_{frozen}.png" in selection.namelist()
    # Deleting the profile photo (a privacy request for it) leaves the attempt's own copy with the attempt.
    assert api.open("DELETE", "/api/v1/users/7/reference").json["reference_photos"] == 1
    assert query(app, "SELECT id FROM reference_photos WHERE source = 'profile'") == [(frozen,)]

    purged = api.json("POST", "/api/v1/purge", {"attempt_id": 1, "dry_run": False}).json
    assert purged["attempts"] == 1
    assert query(app, "SELECT count(*) FROM reference_photos") == [(0,)]
    assert stored_keys(app.config["IMAGES"], "references") == []
