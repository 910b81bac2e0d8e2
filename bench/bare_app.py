"""The baseline for bench/ingest.py: a Flask endpoint that only reads the upload."""
from flask import Flask, request


def create_app():
    app = Flask(__name__)

    @app.post("/upload")
    def upload():
        size = len(request.files["image"].read())
        return {"bytes": size}, 201

    return app
