"""A small signed client of the sidecar's API (standard library only).

What the PHP plugin does, in Python: used by the benchmarks, the tests and `proctorpy demo`.
"""
import json
import secrets
import urllib.error
import urllib.request

from .signing import signed_headers


def multipart(fields, files):
    """Encode form fields and files ({name: (filename, bytes, content_type)}, or a list of such for several
    parts of one name) as multipart."""
    boundary = "proctorpy" + secrets.token_hex(12)
    lines = []
    for name, value in fields.items():
        lines.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts = [(name, part) for name, value in files.items() for part in (value if isinstance(value, list) else [value])]
    for name, (filename, data, content_type) in parts:
        lines.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
        )
    lines.append(f"--{boundary}--\r\n".encode())
    return b"".join(lines), f"multipart/form-data; boundary={boundary}"


class SidecarError(Exception):
    "The sidecar refused a request; status, error code and message as it said them"

    def __init__(self, status, body):
        self.status = status
        self.body = body
        super().__init__(f"{status}: {body}")


class SidecarClient:
    """Signed calls to one sidecar."""

    def __init__(self, url, secret, timeout=30):
        self.url = url.rstrip("/")
        self.secret = secret
        self.timeout = timeout

    def request(self, method, path, body=b"", content_type=None):
        """(status, parsed JSON or raw bytes) of one signed request; SidecarError on 4xx/5xx."""
        headers = signed_headers(self.secret, method, path, body)
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return response.status, _decode(response)
        except urllib.error.HTTPError as error:
            raise SidecarError(error.code, _decode(error)) from None

    def json(self, method, path, payload):
        return self.request(method, path, json.dumps(payload).encode(), "application/json")

    def put_attempt(self, attempt_id, **fields):
        return self.json("PUT", f"/api/v1/attempts/{attempt_id}", fields)[1]

    def finish_attempt(self, attempt_id, finished_at):
        return self.json("POST", f"/api/v1/attempts/{attempt_id}/finish", {"finished_at": finished_at})[1]

    def post_camshot(self, attempt_id, user_id, taken_at, image, client_shot_id=None, kind="attempt",
                     filename="camshot.png", content_type="image/png"):
        body, ctype = multipart(
            {"attempt_id": attempt_id, "user_id": user_id, "taken_at": taken_at,
             "client_shot_id": client_shot_id or secrets.token_hex(8), "kind": kind},
            {"image": (filename, image, content_type)},
        )
        return self.request("POST", "/api/v1/camshots", body, ctype)

    def post_event(self, attempt_id, user_id, event_type, at, client_event_id=None):
        return self.json("POST", "/api/v1/events", {
            "attempt_id": attempt_id, "user_id": user_id, "type": event_type, "at": at,
            "client_event_id": client_event_id or secrets.token_hex(8),
        })

    def get_attempt(self, attempt_id):
        return self.request("GET", f"/api/v1/attempts/{attempt_id}")[1]


def _decode(response):
    data = response.read()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(data)
    return data
