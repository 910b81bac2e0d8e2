"""Errors a caller can see, and the one place that turns them into responses."""
from flask import jsonify, request
from werkzeug.exceptions import HTTPException


class ProctorpyError(Exception):
    "Base of every refusal the sidecar explains to its caller"

    status = 400
    code = "bad_request"

    def __init__(self, message, code=None, status=None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status


class BadRequest(ProctorpyError):
    "The request is malformed: a field is missing or has the wrong type"


class Unauthorized(ProctorpyError):
    "The request is not signed, or not by the shared secret"

    status = 401
    code = "unauthorized"


class Forbidden(ProctorpyError):
    "The caller is known but may not do this"

    status = 403
    code = "forbidden"


class NotFound(ProctorpyError):
    "No such attempt, camshot or user"

    status = 404
    code = "not_found"


class Conflict(ProctorpyError):
    "The request does not fit the current state (unknown or finished attempt)"

    status = 409
    code = "conflict"


class PayloadTooLarge(ProctorpyError):
    "The body or the image is larger than allowed"

    status = 413
    code = "too_large"


class UnsupportedImage(ProctorpyError):
    "The upload is not a readable PNG or JPEG"

    status = 415
    code = "unsupported_image"


class Unprocessable(ProctorpyError):
    "Well-formed, but the content cannot be used (no face on a reference photo)"

    status = 422
    code = "unprocessable"


class TooManyRequests(ProctorpyError):
    "More requests than the configured rate"

    status = 429
    code = "rate_limited"


class Unavailable(ProctorpyError):
    "The sidecar cannot take this now (database locked, data dir read-only)"

    status = 503
    code = "unavailable"


class InsufficientStorage(ProctorpyError):
    "The data directory's disk is below its free-space floor"

    status = 507
    code = "disk_full"


def error_response(code, message, status):
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def init_app(app):
    @app.errorhandler(ProctorpyError)
    def handle_proctorpy_error(error):
        return error_response(error.code, error.message, error.status)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error):
        # Werkzeug's own refusals (404 routes, 405, 413 bodies) speak JSON too.
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description or error.name
        if error.code == 413:
            limit = app.config["PROCTORPY"]["storage.max_upload_bytes"]
            code, message = "too_large", f"The request body is larger than {limit} bytes."
        elif error.code == 404:
            message = f"No such endpoint: {request.method} {request.path}."
        elif error.code == 405:
            message = f"{request.method} is not allowed on {request.path}."
        return error_response(code, message, error.code)
