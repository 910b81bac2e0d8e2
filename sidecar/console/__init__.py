"""The admin console: server-rendered pages under /console/ for storage, retention and audit.

Admins arrive by a one-time signed link from Moodle or sign in with a local account. Sessions are
held by the server (console/sessions.py); the cookie, signed with a key derived from the shared
secret, carries the session's random id and the CSRF token, so every gunicorn worker reads the
same sessions and a new secret ends them all.
"""
import hashlib
import hmac

SESSION_KEY_LABEL = b"proctorpy console session key v1"  # fixed, so the key follows the secret


def session_key(secret):
    """Flask's SECRET_KEY, derived from the shared secret: a new secret ends every session."""
    return hmac.new(secret.encode(), SESSION_KEY_LABEL, hashlib.sha256).hexdigest()


def session_settings(config, secret):
    """Flask's settings of the console's session cookie."""
    return {
        "SECRET_KEY": session_key(secret),
        "SESSION_COOKIE_NAME": "proctorpy_console",
        "SESSION_COOKIE_PATH": "/console",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_SECURE": config["server.public_url"].lower().startswith("https://"),
    }
