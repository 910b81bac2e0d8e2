"""Who may call: Moodle by signed request, and who Moodle says is acting."""
import time

from flask import current_app, request

from .. import installation, nonces
from ..db import write_transaction
from ..errors import Unauthorized
from ..signing import SITE_HEADER, SignatureError, check_signature
from .connections import get_db


def signed_path():
    """PATH?QUERY exactly as the client signed it."""
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")


def require_signed_request():
    """before_request hook of every /api/v1 blueprint but the direct-upload one: a genuine signature,
    a fresh nonce, and the Moodle site this sidecar serves (learnt from the first call naming one)."""
    config = current_app.config["PROCTORPY"]
    body = request.get_data(cache=True)
    now = int(time.time())
    try:
        nonce = check_signature(
            current_app.config["SECRET"], request.method, signed_path(), request.headers,
            body, now, config["security.max_skew"],
        )
    except SignatureError as error:
        raise Unauthorized(error.message, code=error.code) from None
    db = get_db()
    nonces.remember_request_nonce(db, nonce, now, config["security.max_skew"])
    site = request.headers.get(SITE_HEADER, "")
    served = installation.moodle_site(db)
    if served is None and site:
        with write_transaction(db):
            served = installation.learn_site(db, site)
    installation.refuse_other_site(served, site)


def moodle_actor(body=None):
    """The Moodle user on whose behalf a signed request acts, for the audit log."""
    source = body if isinstance(body, dict) else request.args
    actor_id = source.get("actor_id")
    name = source.get("actor_name") or ""
    return {
        "actor_type": "moodle",
        "actor_id": None if actor_id in (None, "") else str(actor_id)[:40],
        "actor_name": str(name)[:200],
    }
