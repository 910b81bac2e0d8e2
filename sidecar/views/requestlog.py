"""One structured log line per request, tied to its caller by a request id.

The id is the caller's X-Request-Id when it is a short plain token (so Moodle's or a
proxy's id follows the request), else a new one; the response echoes it. A line holds
the method, the path without its query, the endpoint, the status, the error code and the
time taken: never a header, a query string, a form field or a body, so no image byte,
signature, token or secret can reach the log.
"""
import json
import logging
import re
import secrets
import sys
import time

from flask import g, request

LOGGER_NAME = "sidecar.requests"
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged, as gunicorn may replace it."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def request_logger():
    """The request logger, given a stderr handler once (create_app may run many times)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        logger.addHandler(StderrHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def start_request():
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if REQUEST_ID_PATTERN.match(given) else secrets.token_hex(8)
    g.request_started = time.monotonic()


def request_seconds():
    """Seconds since the request began, as seen by this app."""
    return time.monotonic() - g.get("request_started", time.monotonic())


def error_code(response):
    """The `error` code of a JSON refusal, or None."""
    if response.status_code < 400 or not response.is_json:
        return None
    body = response.get_json(silent=True)
    return body.get("error") if isinstance(body, dict) else None


def finish_request(response):
    request_id = g.get("request_id") or secrets.token_hex(8)
    response.headers[REQUEST_ID_HEADER] = request_id
    line = {
        "at": round(time.time(), 3),
        "request_id": request_id,
        "method": request.method,
        "path": request.path[:200],
        "endpoint": request.endpoint,
        "status": response.status_code,
        "error": error_code(response),
        "ms": round(request_seconds() * 1000, 1),
        "bytes_in": request.content_length,
        "remote": request.remote_addr,
    }
    request_logger().info(json.dumps(line, separators=(",", ":")))
    return response


def init_app(app):
    request_logger()
    app.before_request(start_request)
    app.after_request(finish_request)
