"""What more than one blueprint needs of a request or a response: JSON bodies, uploaded images,
stored images, ZIP exports. Routes stay in the blueprints; the work they call is in the domain.
"""
import functools
import io
import time

from flask import Response, current_app, request, send_file, stream_with_context

from . import audit, camshots
from .errors import BadRequest
from .reports.pdf import attempt_pdf
from .reports.report import time_zone
from .retention import export


def json_body():
    """The request's JSON object, or a 400 saying why it is not one."""
    if not request.is_json:
        raise BadRequest("The body must be JSON with Content-Type: application/json.", code="not_json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", code="not_json")
    return body


def uploaded_image():
    """The bytes of the multipart file part named image."""
    upload = request.files.get("image")
    if upload is None:
        raise BadRequest("Missing the image file part named 'image'.", code="missing_field")
    return upload.read()


def image_response(db, camshot_id, actor, detail=""):
    """A camshot's or reference photo's PNG, full size (audited) or as a thumbnail (?size=thumb)."""
    size = request.args.get("size", "full")
    data, attempt_id = camshots.image_file(db, current_app.config["IMAGES"], camshot_id, size)
    if size == "full":
        audit.record(db, "image_view", actor, {"camshot_id": camshot_id, "attempt_id": attempt_id}, count=1,
                     detail=detail)
        return send_file(io.BytesIO(data), mimetype="image/png", max_age=0)
    width = current_app.config["PROCTORPY"]["storage.thumb_width"]
    return send_file(camshots.thumbnail(data, width), mimetype="image/png", max_age=0)


def zip_response(stream, filename):
    response = Response(stream_with_context(stream), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def export_response(db, selection, actor, include_reports):
    """Audit the export, then stream its ZIP, with each attempt's report PDF if asked."""
    config = current_app.config["PROCTORPY"]
    images = current_app.config["IMAGES"]
    now = time.time()
    report_pdf = None
    if include_reports:
        report_pdf = functools.partial(attempt_pdf, config=config, images=images,
                                       zone=time_zone(None, config["reports.timezone"]))
    _, stream = export.start(db, current_app.config["DATABASE"], images, selection, actor, now,
                             current_app.config["RETENTION"].default_days, report_pdf=report_pdf,
                             detail=", with report PDFs" if include_reports else "")
    return zip_response(stream, f"proctorpy-export-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}.zip")
