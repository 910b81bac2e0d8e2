"""Request signing and signed tokens shared with the Moodle plugin.

Every call from Moodle carries an HMAC-SHA256 signature over the method, the path with
its query, a timestamp, a nonce and the SHA-256 of the body (DESIGN.md, "Protocol"). A plugin
that names its Moodle site (X-Proctorpy-Site: Moodle's siteidentifier) signs the site as a sixth
line, so that the name cannot be changed on the way; one that does not signs five lines.
Tokens (direct upload, console single sign-on) are ``v1.<base64url(json)>.<hex hmac>``.
"""
import base64
import hashlib
import hmac
import json

TOKEN_VERSION = "v1"
SITE_HEADER = "X-Proctorpy-Site"
MAX_SITE = 255  # Moodle's siteidentifier: 32 random characters and the site's host name


class SignatureError(Exception):
    "The request's signature, timestamp or nonce is not acceptable"

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def canonical_request(method, path_and_query, timestamp, nonce, body, site=""):
    """The exact text both halves sign: five lines joined by newlines, and the site as a sixth when
    the request names one."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path_and_query, str(timestamp), nonce, body_hash] + ([site] if site else []))


def sign(secret, method, path_and_query, timestamp, nonce, body=b"", site=""):
    """Hex HMAC-SHA256 of the canonical request under the shared secret."""
    message = canonical_request(method, path_and_query, timestamp, nonce, body, site)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(secret, method, path_and_query, body=b"", timestamp=None, nonce=None, site=""):
    """Headers for one signed call; what a Python client (tests, bench, CLI) sends."""
    import secrets
    import time

    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(16)
    headers = {
        "X-Proctorpy-Timestamp": str(timestamp),
        "X-Proctorpy-Nonce": nonce,
        "X-Proctorpy-Signature": sign(secret, method, path_and_query, timestamp, nonce, body, site),
    }
    if site:
        headers[SITE_HEADER] = site
    return headers


def check_signature(secret, method, path_and_query, headers, body, now, max_skew):
    """Raise SignatureError unless the headers sign this request; return the nonce.

    The caller still has to refuse a nonce it has seen within the skew window.
    """
    timestamp = headers.get("X-Proctorpy-Timestamp")
    nonce = headers.get("X-Proctorpy-Nonce")
    signature = headers.get("X-Proctorpy-Signature")
    if not (timestamp and nonce and signature):
        raise SignatureError(
            "unsigned",
            "This request is not signed: X-Proctorpy-Timestamp, X-Proctorpy-Nonce and "
            "X-Proctorpy-Signature are required.",
        )
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureError("bad_timestamp", "X-Proctorpy-Timestamp must be unix seconds.")
    if not (32 <= len(nonce) <= 128) or any(c not in "0123456789abcdefABCDEF" for c in nonce):
        raise SignatureError("bad_nonce", "X-Proctorpy-Nonce must be 16 to 64 random bytes in hex.")
    skew = int(timestamp) - now
    if abs(skew) > max_skew:
        raise SignatureError(
            "clock_skew",
            f"The request's timestamp is {skew:+d} s from the sidecar's clock; at most "
            f"{max_skew} s is accepted. Check that both hosts keep time with NTP.",
        )
    site = headers.get(SITE_HEADER) or ""
    if len(site) > MAX_SITE or not site.isprintable():
        raise SignatureError("bad_site", f"{SITE_HEADER} must be Moodle's site identifier, printable and at most "
                                         f"{MAX_SITE} characters.")
    expected = sign(secret, method, path_and_query, int(timestamp), nonce, body, site)
    if not constant_time_equal(expected, signature.lower()):
        raise SignatureError(
            "bad_signature",
            "The signature does not match: the shared secret differs, or the request was "
            "changed on the way.",
        )
    return nonce


def constant_time_equal(expected, given):
    """Whether what a client sent (a digest, a token) is the expected text, in constant time.

    compare_digest raises on non-ASCII text; a header or form field may hold any, and that is
    a mismatch, not an error.
    """
    return given.isascii() and hmac.compare_digest(expected, given)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret, payload):
    """A ``v1.<payload>.<mac>`` token over a JSON payload."""
    body = TOKEN_VERSION + "." + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return body + "." + mac


def read_token(secret, token, now):
    """The payload of a genuine, unexpired token; SignatureError otherwise."""
    parts = (token or "").split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise SignatureError("bad_token", "The token is malformed.")
    body = parts[0] + "." + parts[1]
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not constant_time_equal(expected, parts[2].lower()):
        raise SignatureError("bad_token", "The token's signature does not match.")
    try:
        payload = json.loads(_b64url_decode(parts[1]))
    except ValueError:
        raise SignatureError("bad_token", "The token's payload is not JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise SignatureError("bad_token", "The token has no expiry.")
    if payload["exp"] < now:
        raise SignatureError("token_expired", "The token has expired.")
    return payload
