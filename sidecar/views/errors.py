"""The one place that turns refusals into responses: JSON {"error": code, "message": sentence} with their status."""
import sqlite3

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import ProctorpyError, refusal_headers, storage_refusal


def error_response(code, message, status):
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def init_app(app):
    @app.errorhandler(ProctorpyError)
    def handle_proctorpy_error(error):
        response = error_response(error.code, error.message, error.status)
        response.headers.update(refusal_headers(error))
        return response

    @app.errorhandler(sqlite3.OperationalError)
    @app.errorhandler(OSError)
    def handle_storage_error(error):
        refusal = storage_refusal(error)
        if refusal is None:
            raise error
        app.logger.warning("refused: %s (%s)", refusal.code, error)
        return error_response(refusal.code, refusal.message, refusal.status)

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
