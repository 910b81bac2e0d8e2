"""Receiving a camshot or a browser event: read the request, authorise it, ingest it.

The signed routes (Moodle forwards) and the direct ones (the browser posts with an upload token)
take the same bodies and differ only in how they authorise, which each passes in as
authorise(db, attempt_id, user_id) -> the attempt, or a refusal.
"""
from flask import current_app, jsonify, request

from .. import attempts, camshots, ingest
from .connections import get_db
from .requests import json_body, uploaded_image


def camshot(authorise):
    """The answer to a camshot upload: 201 with the stored camshot, 200 for a retry of one."""
    fields = camshots.upload_fields(request.form)
    data = uploaded_image()
    db = get_db()
    attempt = authorise(db, fields["attempt_id"], fields["user_id"])
    stored, created = ingest.camshot(db, current_app.config["PROCTORPY"], current_app.config["IMAGES"], attempt,
                                     fields, data)
    return jsonify(stored), 201 if created else 200


def event(authorise):
    """The answer to a browser event: 201 with the stored event, 200 for a retry of one."""
    fields = attempts.event_fields(json_body())
    db = get_db()
    authorise(db, fields["attempt_id"], fields["user_id"])
    answer, created = ingest.event(db, current_app.config["PROCTORPY"], fields)
    return jsonify(answer), 201 if created else 200
