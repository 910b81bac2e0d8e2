"""Console sign-in (Moodle single sign-on link, local admin), sessions, CSRF and headers."""
import re
import secrets
import time

from flask import current_app, g, make_response, redirect, render_template, request, session, url_for

from .. import audit, nonces
from ..db import IntegrityError, without_fsync, write_transaction
from ..errors import Forbidden, ProctorpyError, TooManyRequests, Unauthorized, refusal_headers
from ..signing import SignatureError, constant_time_equal, read_token
from ..views.connections import get_db
from ..views.errors import error_response
from ..views.requests import client_address
from . import admins, sessions, throttle
from .blueprint import bp, current_admin

SSO_LIFETIME = 60  # seconds; Moodle mints the link the moment the admin clicks it
NONCE_PATTERN = re.compile(r"^[0-9a-fA-F]{16,64}$")
OPEN_ENDPOINTS = ("console.sso", "console.login", "console.static")


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_template_global("csrf_token")
def csrf_token_global():
    return csrf_token()


@bp.before_request
def guard():
    """CSRF on every form, and a live session before anything but the sign-in pages."""
    g.csp_nonce = secrets.token_urlsafe(16)
    if request.method not in ("GET", "HEAD"):
        sent = request.form.get("csrf_token", "")
        if not (session.get("csrf") and constant_time_equal(session["csrf"], sent)):
            raise Forbidden("The form's security token is missing or stale; reload the page and try again.",
                            code="csrf")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    config = current_app.config["PROCTORPY"]
    now = time.time()
    db = get_db()
    found = sessions.find(db, session.get("sid"), now, config["console.session_idle_minutes"] * 60)
    if found is None or not found[0]:
        if found:
            # Ended by time rather than by the admin: audited as a sign-out all the same.
            with write_transaction(db):
                sessions.end(db, session["sid"])
                audit.record(db, "console_sign_out", {"actor_type": "console", "actor_id": found[1],
                                                      "actor_name": found[2]},
                             {"address": client_address()}, detail="session ended: idle or past its lifetime")
        session.pop("sid", None)
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None,
                                idle=1 if found else None))
    _, account, name, last_seen = found
    g.admin = {"id": account, "name": name}
    if now - last_seen > sessions.SEEN_EVERY:
        # Like a nonce, the time last seen only has to outlive a process crash.
        with without_fsync(db), write_transaction(db):
            sessions.touch(db, session["sid"], now)
    return None


@bp.after_request
def security_headers(response):
    config = current_app.config["PROCTORPY"]
    origin = config["console.moodle_origin"].rstrip("/")
    ancestors = f"'self' {origin}" if origin else "'none'"
    nonce = g.get("csp_nonce", "")
    # Inline styles only on the report page, whose fragment brings its own; scripts never inline.
    styles = "'self' 'unsafe-inline'" if g.get("report_styles") else "'self'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src {styles}; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Sign-on links carry a token in their URL: never send console URLs elsewhere.
    response.headers["Referrer-Policy"] = "no-referrer"
    if not origin:
        response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html" or request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ProctorpyError)
def console_error(error):
    """Refusals as a page for browsers, as the API's JSON for scripts that ask for it."""
    if request.accept_mimetypes.best == "application/json":
        response = error_response(error.code, error.message, error.status)
    else:
        response = make_response(render_template("error.html", error=error), error.status)
    response.headers.update(refusal_headers(error))
    return response


@bp.get("/sso")
def sso():
    """Sign in by a one-time link minted by Moodle for a site administrator."""
    now = int(time.time())
    try:
        payload = read_token(current_app.config["SECRET"], request.args.get("token", ""), now)
    except SignatureError as error:
        raise Unauthorized(f"This sign-in link is not valid: {error.message} Open the console from Moodle again.",
                           code=error.code) from None
    if payload.get("p") != "sso":
        raise Unauthorized("This token is not a console sign-in link.", code="bad_token")
    if payload["exp"] > now + SSO_LIFETIME:
        raise Unauthorized(f"This sign-in link claims to live longer than {SSO_LIFETIME} s; it is refused.",
                           code="bad_token")
    uid, name, nonce = payload.get("uid"), payload.get("name"), payload.get("n")
    if not (isinstance(uid, int) and uid > 0 and isinstance(name, str) and len(name) <= 200
            and isinstance(nonce, str) and NONCE_PATTERN.match(nonce)):
        raise Unauthorized("This sign-in link lacks the admin's id, name or nonce.", code="bad_token")
    db = get_db()
    try:
        with write_transaction(db):
            # Kept with the request nonces, which outlive the link's minute before they are pruned.
            nonces.remember(db, "sso:" + nonce, now)
            actor = {"actor_type": "console", "actor_id": f"moodle:{uid}", "actor_name": name}
            audit.record(db, "console_sign_in", actor, {"address": client_address()},
                         detail="single sign-on from Moodle")
            start_session(db, actor, now)
    except IntegrityError:
        raise Unauthorized("This sign-in link was used already; open the console from Moodle again.",
                           code="replayed_token") from None
    # A page rather than a redirect: a SameSite=Strict cookie set on a navigation that began on
    # Moodle's site is not sent on that navigation's redirects, but is on this page's own.
    return render_template("signed_in.html", target=url_for("console.dashboard"), name=name)


def start_session(db, actor, now):
    """A new session, with a new id and CSRF token whatever the cookie held before (no fixation).
    Inside the caller's transaction."""
    config = current_app.config["PROCTORPY"]
    sessions.sweep(db, now, config["console.session_idle_minutes"] * 60)
    sessions.end(db, session.get("sid"))
    session.clear()
    session["sid"] = sessions.start(db, actor["actor_id"], actor["actor_name"], now,
                                    config["console.session_hours"] * 3600)
    session["csrf"] = secrets.token_urlsafe(32)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Local admin sign-in (accounts made with `proctorpy admin create`)."""
    error = None
    if request.method == "POST":
        name = audit.readable(request.form.get("name", "")[:64])  # no admin's name holds a NUL
        password = request.form.get("password", "")
        config = current_app.config["PROCTORPY"]
        lockout = config["console.sign_in_lockout_seconds"]
        address = client_address()
        guarded = throttle.guards(config, name, address)
        now = time.time()
        db = get_db()
        actor = {"actor_type": "console", "actor_id": f"local:{name}", "actor_name": name}
        try:
            locking = throttle.count_sign_in(db, guarded, now, lockout)
        except TooManyRequests as refusal:
            with write_transaction(db):
                audit.record(db, "console_sign_in_refused", actor, {"address": address}, detail=refusal.message)
            raise
        signed_in = admins.authenticate(db, name, password)
        with write_transaction(db):
            if signed_in:
                admins.record_sign_in(db, name, now)
                throttle.forget(db, guarded)
                audit.record(db, "console_sign_in", actor, {"address": address}, detail="local admin")
                start_session(db, actor, now)
            else:
                audit.record(db, "console_sign_in_failed", actor, {"address": address}, detail="local admin")
                throttle.audit_lockouts(db, actor, locking, lockout)
        if signed_in:
            target = request.args.get("next", "")
            # Only a path inside the console, never another site.
            if not (target.startswith("/console/") and not target.startswith("//")):
                target = url_for("console.dashboard")
            return redirect(target)
        error = "The name or the password is wrong."
    status = 401 if error else 200
    return render_template("login.html", error=error, idle=request.args.get("idle")), status


@bp.post("/logout")
def logout():
    actor = current_admin()
    db = get_db()
    with write_transaction(db):
        sessions.end(db, session.get("sid"))
        audit.record(db, "console_sign_out", actor, {"address": client_address()})
    session.clear()
    return redirect(url_for("console.login"))
