"""What more than one route needs of a request or a response: the client's address, JSON bodies,
uploaded images, stored images, ZIP archives."""
import io

from flask import Response, current_app, request, send_file, stream_with_context

from .. import camshots, proxies
from ..errors import BadRequest
from ..retention import export


def client_address():
    """The client's own address, behind the proxies of server.trusted_proxies."""
    return proxies.client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"),
                                  current_app.config["TRUSTED_PROXIES"])


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
    png = camshots.viewed_image(db, current_app.config["IMAGES"], camshot_id, request.args.get("size", "full"),
                                current_app.config["PROCTORPY"]["storage.thumb_width"], actor, detail)
    return send_file(io.BytesIO(png), mimetype="image/png", max_age=0)


def zip_response(stream, filename):
    response = Response(stream_with_context(stream), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def export_response(db, selection, actor, include_reports):
    """The ZIP of an export of the selection, audited, with each attempt's report PDF if asked."""
    app = current_app.config
    stream, filename = export.download(db, app["PROCTORPY"], app["RETENTION"], app["IMAGES"], app["REPORT_TEMPLATES"],
                                       selection, actor, include_reports)
    return zip_response(stream, filename)
