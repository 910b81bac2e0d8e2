"""Console pages: dashboard, browse, policies, hold, purge, export, audit log."""
import csv
import datetime
import io
import json
import logging
import threading
import time

from flask import Response, current_app, g, redirect, render_template, request, stream_with_context, url_for

from .. import attempts, audit
from ..db import connect, database_location, write_transaction
from ..errors import BadRequest, NotFound, ProctorpyError
from ..reports.overview import spreadsheet_cell
from ..reports.render import attempt_report_html
from ..reports.report import build_report, time_zone
from ..retention import export, export_runs, policy, purge
from ..retention.selection import SELECTION_KEYS, describe, quizzes_of, read_selection
from ..validation import positive_int
from ..views.connections import get_db
from ..views.requests import image_response, zip_response
from . import stats
from .blueprint import bp, current_admin

log = logging.getLogger(__name__)

AUDIT_PAGE = 100
ATTEMPTS_PAGE = 500


@bp.app_template_filter("size")
def size_filter(value):
    """Bytes for people: 1.4 MB."""
    value = float(value or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""


@bp.app_template_filter("when")
def when_filter(seconds, with_time=True):
    if seconds is None or seconds == "":
        return "—"
    try:
        moment = datetime.datetime.fromtimestamp(float(seconds), datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "invalid time"  # a row stored before times were checked
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def config():
    return current_app.config["PROCTORPY"]


def retention():
    return current_app.config["RETENTION"]


@bp.get("/")
def dashboard():
    figures = stats.dashboard(get_db(), config(), retention(), current_app.config["DATA_DIR"])
    return render_template("dashboard.html", figures=figures, admin=current_admin(), page="dashboard")


@bp.get("/courses")
def courses():
    return render_template("courses.html", courses=stats.usage(get_db(), "course"), page="browse")


@bp.get("/courses/<course_id>")
def course(course_id):
    course_id = positive_int(course_id, "course_id")
    db = get_db()
    quizzes = stats.usage_in_course(db, course_id)
    if not quizzes:
        raise NotFound(f"The sidecar holds no attempt of course {course_id}.")
    return render_template("course.html", course_id=course_id, course_name=quizzes[0]["course_name"],
                           quizzes=quizzes, policy=policy.days_of(db, "course", course_id), page="browse")


@bp.get("/quizzes/<quiz_id>")
def quiz(quiz_id):
    quiz_id = positive_int(quiz_id, "quiz_id")
    db = get_db()
    listed = attempts.quiz_attempts(db, quiz_id, ATTEMPTS_PAGE + 1)
    if not listed:
        raise NotFound(f"The sidecar holds no attempt of quiz {quiz_id}.")
    shown = listed[:ATTEMPTS_PAGE]
    for attempt in shown:
        attempt["policy"] = policy.resolve(db, attempt, retention().default_days)
    first = shown[0]
    return render_template("quiz.html", quiz_id=quiz_id, attempts=shown, more=len(listed) > ATTEMPTS_PAGE,
                           course_id=first["course_id"], course_name=first["course_name"], cm_id=first["cm_id"],
                           quiz_name=first["quiz_name"], policy=policy.days_of(db, "quiz", quiz_id), page="browse")


def refuse_unknown_attempt(db, attempt_id):
    """NotFound, in the console's words, for an attempt the sidecar does not hold."""
    if attempts.find_attempt(db, attempt_id) is None:
        raise NotFound(f"The sidecar holds no attempt {attempt_id}.")


@bp.get("/attempts/<attempt_id>")
def attempt(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    db = get_db()
    refuse_unknown_attempt(db, attempt_id)
    detail = attempts.attempt_detail(db, attempt_id)
    rule = policy.resolve(db, detail["attempt"], retention().default_days)
    with write_transaction(db):
        audit.record(db, "attempt_view", current_admin(), {"attempt_id": attempt_id}, count=len(detail["shots"]),
                     detail="console attempt page with thumbnails")
    return render_template("attempt.html", detail=detail, attempt=detail["attempt"], rule=rule, page="browse")


@bp.post("/attempts/<attempt_id>/hold")
def hold(attempt_id):
    attempt_id = positive_int(attempt_id, "attempt_id")
    value = request.form.get("hold")
    if value not in ("0", "1"):
        raise BadRequest("hold must be 0 or 1.", code="invalid_field")
    db = get_db()
    with write_transaction(db):
        policy.set_hold(db, attempt_id, value == "1")
        audit.record(db, "legal_hold", current_admin(), {"attempt_id": attempt_id}, count=1,
                     detail="hold set" if value == "1" else "hold released")
    return redirect(url_for("console.attempt", attempt_id=attempt_id))


@bp.get("/attempts/<attempt_id>/report")
def report(attempt_id):
    """The attempt's report, rendered by sidecar.reports exactly as Moodle shows it."""
    attempt_id = positive_int(attempt_id, "attempt_id")
    db = get_db()
    refuse_unknown_attempt(db, attempt_id)
    zone = time_zone(None, config()["reports.timezone"])
    html = attempt_report_html(current_app.config["REPORT_TEMPLATES"], build_report(db, config(), attempt_id, zone),
                               url_for("console.dashboard") + "images/")
    g.report_styles = True  # the fragment carries its own <style>, as it does inside Moodle
    with write_transaction(db):
        audit.record(db, "report_view", current_admin(), {"attempt_id": attempt_id}, count=1, detail="console")
    return render_template("report.html", attempt_id=attempt_id, report_html=html, page="browse")


@bp.get("/images/<camshot_id>")
def image(camshot_id):
    """A camshot or reference photo for the console; full-size views are audited one by one."""
    return image_response(get_db(), camshot_id, current_admin(), detail="console")


@bp.get("/policies")
def policies():
    db = get_db()
    return render_template("policies.html", policies=policy.list_policies(db), known_quizzes=attempts.known_quizzes(db),
                           default_days=retention().default_days, page="policies")


@bp.post("/policies")
def save_policy():
    form = request.form
    db = get_db()
    action = form.get("action", "set")
    if action not in ("set", "delete"):
        raise BadRequest("action must be set or delete.", code="invalid_field")
    scope_id = form.get("scope_id", "")
    if form.get("scope") == "quiz" and form.get("cm_id", "").strip():
        # The quiz as an admin sees it, by the id in its address; policies keep Moodle's quiz instance id.
        cm_id = positive_int(form["cm_id"].strip(), "cm_id")
        scope_id = attempts.quiz_of_module(db, cm_id)
        if scope_id is None:
            raise NotFound(f"The sidecar holds no attempt of the quiz at view.php?id={cm_id}: a quiz policy is set for "
                           "a quiz it holds (before its first attempt, set the days in the quiz's settings in Moodle).")
    scope, scope_id, days = policy.read_policy(
        form.get("scope"), scope_id, form.get("days") if action == "set" else None)
    if action == "set" and days is None:
        raise BadRequest("Missing required field(s): days.", code="missing_field")
    with write_transaction(db):
        if action == "set":
            policy.set_policy(db, scope, scope_id, days)
        else:
            policy.delete_policy(db, scope, scope_id)
        audit.record(db, "policy_" + action, current_admin(), {f"{scope}_id": scope_id},
                     detail=f"{days} days" if action == "set" else "policy removed")
    return redirect(url_for("console.policies"))


def form_selection(source):
    """A selection from form fields: ids as digits, before as a date, expired as a checkbox."""
    body = {key: source.get(key, "").strip() for key in ("course_id", "quiz_id", "cm_id", "user_id", "attempt_id")}
    before = source.get("before", "").strip()
    if before:
        try:
            day = datetime.datetime.strptime(before, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise BadRequest("before must be a date as YYYY-MM-DD.", code="invalid_field") from None
        body["before"] = int(day.timestamp())
    if source.get("expired") in ("1", "on", "true"):
        body["expired"] = True
    return read_selection(body)


def form_values(source):
    return {key: source.get(key, "") for key in (*SELECTION_KEYS, "include_reports")}


def selection_page(template, figures_of, **shown):
    """The purge or export form; with a selection, its figures and the quizzes it reaches, named."""
    values, selection, figures, reached, error = form_values(request.args), None, None, None, None
    db = get_db()
    if request.args.get("preview"):
        try:
            selection = form_selection(request.args)
            now = int(time.time())
            figures = figures_of(db, selection, now)
            reached = quizzes_of(db, selection, now, retention().default_days)
        except ProctorpyError as refusal:
            error = refusal.message
    return render_template(template, values=values, selection=selection, figures=figures, reached=reached,
                           error=error, described=describe(selection) if selection else "",
                           known_quizzes=attempts.known_quizzes(db), page=template.removesuffix(".html"), **shown)


@bp.get("/purge")
def purge_form():
    """The purge form; with a selection, its dry-run figures, the quizzes it reaches and the confirm button."""
    return selection_page("purge.html", lambda db, selection, now: purge.run_purge(
        db, retention(), current_app.config["IMAGES"], selection, current_admin(), dry_run=True, now=now))


@bp.post("/purge")
def purge_confirm():
    """Start the purge and show how far it has got: a large one runs for minutes."""
    selection = form_selection(request.form)
    holder = purge.new_holder()
    run_id = purge.start(get_db(), selection, current_admin(), time.time(), retention().default_days, holder)
    purge_in_background(run_id, holder)
    return redirect(url_for("console.purge_run", run_id=run_id), code=303)


def purge_in_background(run_id, holder):
    """Run a recorded purge in a thread of this worker, through a connection of its own.

    Should the worker stop first, the run's lease lapses and it is finished as any interrupted run
    is (at the sidecar's next start, its daily retention run, or the next `proctorpy purge`); the
    audit row is written when the run ends, whoever ends it.
    """
    database, images, settings = database_location(config()), current_app.config["IMAGES"], retention()

    def work():
        db = connect(database)
        try:
            purge.run(db, images, run_id, settings.batch_size, holder, settings.pause_ratio)
        except Exception:
            log.exception("console purge run %s stopped; it is finished as an interrupted run", run_id)
        finally:
            db.close()

    threading.Thread(target=work, name=f"purge-run-{run_id}", daemon=True).start()


def purge_progress(run_id):
    progress = purge.progress_of(get_db(), positive_int(run_id, "run_id"), time.time())
    if progress is None:
        raise NotFound(f"There is no purge run {run_id}.")
    return progress


@bp.get("/purge/runs/<run_id>")
def purge_run(run_id):
    """A purge run: its progress while it runs (the page follows it), its totals once done."""
    progress = purge_progress(run_id)
    return render_template("purge_run.html", run_id=int(run_id), progress=progress,
                           described=describe(progress["selection"]), page="purge")


@bp.get("/purge/runs/<run_id>/progress")
def purge_run_progress(run_id):
    progress = purge_progress(run_id)
    return {key: value for key, value in progress.items() if key != "selection"}


@bp.get("/export")
def export_form():
    """The export form; with a selection, its size and the quizzes it reaches before the download button,
    and the key under which the download's progress is shown."""
    return selection_page("export.html", lambda db, selection, now: export.figures(
        db, selection, now, retention().default_days), run_key=export_runs.new_key())


@bp.post("/export")
def export_download():
    """The ZIP, audited; with the page's key, its progress written down as it is sent."""
    selection = form_selection(request.form)
    key = export_runs.checked_key(request.form["run"]) if request.form.get("run") else None
    db, app = get_db(), current_app.config
    stream, filename = export.download(db, app["PROCTORPY"], app["RETENTION"], app["IMAGES"], app["REPORT_TEMPLATES"],
                                       selection, current_admin(), request.form.get("include_reports") == "1")
    if key:
        now = time.time()
        export_runs.begin(db, key, current_admin()["actor_id"],
                          export.figures(db, selection, now, retention().default_days), now)
        stream = export_runs.tracked(stream, database_location(config()), key)
    return zip_response(stream, filename)


@bp.get("/export/runs/<key>/progress")
def export_run_progress(key):
    """The download's progress; until it reaches the sidecar (or for another admin's key), waiting."""
    progress = export_runs.progress_of(get_db(), export_runs.checked_key(key), current_admin()["actor_id"])
    return progress or {"state": "waiting"}


def audit_filters(source):
    """The audit page's filters (audit.search's), checked, and their values as the form shows them."""
    values = {key: source.get(key, "") for key in ("action", "actor", "from", "to")}
    filters = {"action": values["action"].strip(), "actor": values["actor"].strip()}
    for key, name, extra in (("from", "since", 0), ("to", "until", 86400)):
        text = values[key].strip()
        if text:
            try:
                day = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
            except ValueError:
                raise BadRequest(f"{key} must be a date as YYYY-MM-DD.", code="invalid_field") from None
            filters[name] = day.timestamp() + extra
    return filters, values


@bp.get("/audit")
def audit_log():
    filters, values = audit_filters(request.args)
    before = request.args.get("before_id", "")
    db = get_db()
    rows = audit.search(db, filters, positive_int(before, "before_id") if before else None, AUDIT_PAGE + 1)
    for row in rows:
        row["selection"] = describe_audit_selection(row["selection"])
    return render_template("audit.html", rows=rows[:AUDIT_PAGE], more=len(rows) > AUDIT_PAGE, values=values,
                           actions=audit.actions(db), page="audit")


def describe_audit_selection(text):
    try:
        selection = json.loads(text)
    except ValueError:
        return text
    return ", ".join(f"{key} {value}" for key, value in sorted(selection.items())) if selection else ""


def audit_cell(column, value):
    """A CSV cell of the audit log; names and details come from Moodle and admins, so never a formula."""
    if column == "at":
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat()
    return spreadsheet_cell(value) if isinstance(value, str) else value


@bp.get("/audit.csv")
def audit_csv():
    filters, values = audit_filters(request.args)
    db = get_db()
    with write_transaction(db):
        audit.record(db, "audit_export", current_admin(), {k: v for k, v in values.items() if v},
                     detail="audit log CSV")

    def rows():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(audit.COLUMNS)
        for page in audit.pages(db, filters):
            for row in page:
                writer.writerow([audit_cell(column, row[column]) for column in audit.COLUMNS])
            yield out.getvalue()
            out.seek(0)
            out.truncate()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="proctorpy-audit.csv"'
    return response
