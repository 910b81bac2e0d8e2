"""Errors a caller can see: one class per refusal, with the status and the code it is answered with."""
import errno
import math
import sqlite3


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

    def __init__(self, message, retry_after, code=None):
        super().__init__(message, code=code)
        self.retry_after = max(1, math.ceil(retry_after))  # whole seconds, as Retry-After takes them


def refusal_headers(error):
    """Headers a refusal carries besides its body: Retry-After on a 429."""
    retry_after = getattr(error, "retry_after", None)
    return {"Retry-After": str(retry_after)} if retry_after else {}


class Unavailable(ProctorpyError):
    "The sidecar cannot take this now (database locked, data dir read-only)"

    status = 503
    code = "unavailable"


class DatabaseUnavailable(Unavailable):
    "The PostgreSQL server cannot be reached or refused the connection"

    code = "database_unavailable"


class ImageStoreUnavailable(Unavailable):
    "The object store holding the images cannot be reached, or refused the request"

    code = "image_store_unavailable"


class InsufficientStorage(ProctorpyError):
    "The data directory's disk is below its free-space floor"

    status = 507
    code = "disk_full"


def storage_refusal(error):
    """The refusal for a database or disk failure an admin can fix, or None for a real bug.

    Nothing is half-stored when these happen: a camshot's file is removed again when its
    row cannot be committed, so the client may retry the same client_shot_id later.
    """
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        if "locked" in text or "busy" in text:
            return Unavailable(
                "The sidecar's database is locked by another process (a backup, a purge or a long query) and "
                "stayed locked past the wait; nothing was stored. Try again in a moment.", code="database_locked")
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return Unavailable(
                "The sidecar's database cannot be written: its data dir is read-only or not writable by the "
                "sidecar's user. Nothing was stored; fix the mount or the permissions.", code="read_only")
        if "full" in text:
            return InsufficientStorage(
                "The sidecar's disk is full; nothing was stored. Free space (purge old data) or grow the disk.")
        if "i/o" in text:
            return Unavailable("The sidecar's disk reported an I/O error; nothing was stored. Check the disk.",
                               code="disk_error")
    elif isinstance(error, OSError) and error.errno is not None:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return InsufficientStorage(
                "The sidecar's disk is full; nothing was stored. Free space (purge old data) or grow the disk.")
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return Unavailable(
                "The sidecar's data dir cannot be written: it is read-only or not writable by the sidecar's "
                "user. Nothing was stored; fix the mount or the permissions.", code="read_only")
        if error.errno == errno.EIO:
            return Unavailable("The sidecar's disk reported an I/O error; nothing was stored. Check the disk.",
                               code="disk_error")
    return None
