"""A stand-in of the Moodle host's web server: the public path to the sidecar, the rest to Moodle.

It does what deploy/nginx-proctorpy.conf does (only /healthz and /api/v1/direct/ under the
public path pass; the Host header is kept; cookies are not passed to the sidecar), and it can
break the way a real proxy breaks, for the tests of direct upload and its fallback.
"""
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PASSED = ("/healthz", "/api/v1/direct/")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


class FrontServer:
    """Serves one origin: `public_path` goes to the sidecar, everything else to Moodle (if given)."""

    def __init__(self, sidecar_url, moodle_url=None, public_path="/proctorpy/"):
        self.sidecar = urlsplit(sidecar_url)
        self.moodle = urlsplit(moodle_url) if moodle_url else None
        self.public_path = public_path
        # What the public path does: up (pass to the sidecar), or break like a dead or misconfigured
        # proxy: bad_gateway (502), not_found (404), healthz_only (404 for the upload endpoints).
        self.mode = "up"
        self.direct_requests = []  # (path, status, body) of each request that came to the public path
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                front.handle(self)

            def do_POST(self):
                front.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.public_url = self.url + public_path.rstrip("/")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, handler):
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.path.startswith(self.public_path):
            path = "/" + handler.path[len(self.public_path):]
            status = self.to_sidecar(handler, path, body)
            self.direct_requests.append((path, status, body))
        elif self.moodle:
            self.relay(handler, self.moodle, handler.path, body, keep_cookies=True)
        else:
            reply(handler, 404, b"<h1>Not Found</h1>", "text/html")

    def to_sidecar(self, handler, path, body):
        passes = path.startswith(PASSED) and not (self.mode == "healthz_only" and path != "/healthz")
        if self.mode == "bad_gateway":
            return reply(handler, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        if self.mode == "not_found" or not passes:
            return reply(handler, 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        return self.relay(handler, self.sidecar, path, body, keep_cookies=False)

    @staticmethod
    def relay(handler, upstream, path, body, keep_cookies):
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in HOP_BY_HOP and (keep_cookies or k.lower() != "cookie")}
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        try:
            conn.request(handler.command, path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except OSError:
            return reply(handler, 502, b"<h1>502 Bad Gateway</h1>", "text/html")
        finally:
            conn.close()
        return reply(handler, response.status, data, response.getheader("Content-Type", "text/plain"))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def reply(handler, status, data, content_type):
    """Answer a request of an http.server handler; return the status sent."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    return status
