"""Reading client input into typed values, with a precise message for each refusal."""
from .errors import BadRequest

MAX_ID = 2**63 - 1  # SQLite's INTEGER range
TOKEN_LENGTH = 64  # a client-chosen key: room for a UUID with a prefix, no more


def positive_int(value, name):
    """A Moodle id: a positive integer given as a JSON number or as digits."""
    if isinstance(value, bool):
        raise BadRequest(f"{name} must be a positive integer, got {value!r}.", code="invalid_field")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        raise BadRequest(f"{name} must be a positive integer, got {str(value)[:40]!r}.", code="invalid_field")
    if not 0 < number <= MAX_ID:
        raise BadRequest(f"{name} must be a positive integer, got {number}.", code="invalid_field")
    return number


def id_list(value, name, most):
    """Moodle ids given as digits separated by commas, at least one and at most `most` of them."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must list one or more ids separated by commas.", code="invalid_field")
    parts = value.split(",")
    if len(parts) > most:
        raise BadRequest(f"{name} lists more than {most} ids.", code="invalid_field")
    return frozenset(positive_int(part, name) for part in parts)


def non_negative_int(value, name):
    if value in (0, "0"):
        return 0
    return positive_int(value, name)


def text(value, name, max_length=255, allow_empty=True):
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.", code="invalid_field")
    if len(value) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters.", code="invalid_field")
    if "\x00" in value:  # no name holds one, and PostgreSQL stores none in text
        raise BadRequest(f"{name} must not contain a NUL character.", code="invalid_field")
    if not allow_empty and not value.strip():
        raise BadRequest(f"{name} must not be empty.", code="invalid_field")
    return value


def token(value, name, max_length=TOKEN_LENGTH):
    """A client-chosen key such as client_shot_id: printable ASCII without spaces."""
    value = text(value, name, max_length, allow_empty=False)
    if not all(33 <= ord(c) < 127 for c in value):
        raise BadRequest(f"{name} must be printable ASCII without spaces.", code="invalid_field")
    return value


def number(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{name} must be a number.", code="invalid_field")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}.", code="invalid_field")
    return value


def required(body, *names):
    missing = [n for n in names if body.get(n) in (None, "")]
    if missing:
        raise BadRequest("Missing required field(s): " + ", ".join(missing) + ".", code="missing_field")
