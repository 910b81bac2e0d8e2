"""Direct upload: the student's browser posts camshots and events with an upload token.

The plugin mints the token when it sets up an attempt page; the browser sends it through a
same-origin path that the Moodle host's web server proxies to the sidecar (DESIGN.md, "Direct
upload"). These endpoints take the same bodies as their signed twins and never run the
signed-request hook: the token, bound to one attempt and one user, is the whole authority.
"""
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, request

from .. import attempts
from ..errors import Conflict, Forbidden, Unauthorized
from ..signing import SignatureError, read_token
from ..validation import MAX_ID
from . import uploads

bp = Blueprint("direct_upload", __name__, url_prefix="/api/v1/direct")

DEFAULT_PORTS = {"http": 80, "https": 443}


@bp.before_request
def require_upload_token():
    """Same-origin browsers with a genuine, unexpired upload token only."""
    refuse_cross_site()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        raise Unauthorized("Send the upload token as Authorization: Bearer <token>.", code="missing_token")
    if scheme.lower() != "bearer" or not value.strip() or len(value) > 1024:
        raise Unauthorized("The Authorization header must be Bearer <upload token>.", code="bad_authorization")
    try:
        payload = read_token(current_app.config["SECRET"], value.strip(), int(time.time()))
    except SignatureError as error:
        message = {
            "token_expired": "The upload token has expired; reload the quiz page for a new one.",
        }.get(error.code, "The upload token is not genuine: " + error.message)
        raise Forbidden(message, code=error.code) from None
    attempt_id, user_id = payload.get("a"), payload.get("u")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in (attempt_id, user_id)):
        raise Forbidden("The token is not an upload token: it names no attempt and user.", code="bad_token")
    g.upload_token = {"attempt_id": attempt_id, "user_id": user_id}


def refuse_cross_site():
    """Refuse what a browser marks as coming from another site; clients that say nothing pass.

    The browser sets Sec-Fetch-Site and Origin itself, so a page elsewhere cannot hide them;
    without CORS answers such a page cannot send the Authorization header either. This is a
    second line behind that, for browsers and embeddings that would let a token travel.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        raise Forbidden(f"Direct uploads come from the quiz page itself, not from a {site} page.", code="cross_site")
    origin = request.headers.get("Origin")
    if origin is not None and not same_host(origin, request.headers.get("Host", "")):
        raise Forbidden("Direct uploads come from the quiz page itself; this request's Origin is another site.",
                        code="cross_site")


def same_host(origin, host):
    """Whether an Origin names the host the request was sent to (the Moodle host, as proxied).

    A proxy may pass the host without its port; then only the names are compared.
    """
    try:
        seen = urlsplit(origin)
        wanted = urlsplit("//" + host)
        origin_port = seen.port or DEFAULT_PORTS.get(seen.scheme)
        host_port = wanted.port
    except ValueError:
        return False
    if seen.scheme not in DEFAULT_PORTS or not seen.hostname or not wanted.hostname:
        return False
    if seen.hostname != wanted.hostname:
        return False
    return host_port is None or host_port == origin_port


def owned_attempt(db, attempt_id, user_id):
    """The token's attempt, when the body names it and its user, and it is still in progress."""
    grant = g.upload_token
    if attempt_id != grant["attempt_id"] or user_id != grant["user_id"]:
        raise Forbidden(
            f"This upload token is for attempt {grant['attempt_id']} of user {grant['user_id']}, "
            f"not attempt {attempt_id} of user {user_id}.",
            code="token_mismatch",
        )
    attempt = attempts.load_attempt(db, attempt_id, must_belong_to=user_id, status=409)
    if attempt["finished_at"] is not None:
        raise Conflict(f"Attempt {attempt_id} is finished; it takes no more camshots or events.",
                       code="attempt_finished")
    return attempt


@bp.post("/camshots")
def post_camshot():
    """The twin of the signed POST /api/v1/camshots, authorised by the upload token."""
    return uploads.camshot(owned_attempt)


@bp.post("/events")
def post_event():
    """The twin of the signed POST /api/v1/events, authorised by the upload token."""
    return uploads.event(owned_attempt)
