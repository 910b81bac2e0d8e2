"""Passwords out of what is printed: URLs in logs, messages and `proctorpy check`.

A URL may carry its password in the user part (postgresql://user:password@host/db, where the
password may hold any character an admin typed, '/' and '@' included) or as a query parameter
(?password=...); either is shown as ***.
"""
import re
from urllib.parse import unquote

HIDDEN = "***"
# Query parameters libpq and object stores read secrets from.
SECRET_PARAMETERS = re.compile(r"([?&](?:password|passwd|secret|sslpassword)=)[^&#]*", re.IGNORECASE)


def user_part(url):
    """What stands before a URL's host: user:password, or "" when it names none."""
    _, separator, rest = str(url).partition("://")
    head = rest.split("?", 1)[0]
    at = head.rfind("@")
    return head[:at] if separator and at >= 0 else ""


def redact_url(url):
    """The URL with every password in it replaced by ***."""
    text = str(url)
    scheme, separator, rest = text.partition("://")
    if not separator:
        return text
    query_at = rest.find("?")
    authority_and_path = rest if query_at < 0 else rest[:query_at]
    query = "" if query_at < 0 else rest[query_at:]
    # The last '@' before the query ends the user part: a password's own '/' or '@' stays inside it.
    at = authority_and_path.rfind("@")
    if at >= 0:
        user, colon, _ = authority_and_path[:at].partition(":")
        if colon:
            authority_and_path = f"{user}:{HIDDEN}{authority_and_path[at:]}"
    return f"{scheme}://{authority_and_path}{SECRET_PARAMETERS.sub(lambda m: m.group(1) + HIDDEN, query)}"


def passwords_in(url):
    """The passwords a URL carries, as typed and decoded, to take out of a library's message."""
    text = str(url)
    _, separator, rest = text.partition("://")
    if not separator:
        return []
    query_at = rest.find("?")
    head = rest if query_at < 0 else rest[:query_at]
    found = []
    at = head.rfind("@")
    if at >= 0 and ":" in head[:at]:
        found.append(head[:at].partition(":")[2])
    if query_at >= 0:
        found.extend(match.group(0).partition("=")[2] for match in SECRET_PARAMETERS.finditer(rest[query_at:]))
    return [variant for password in found if password for variant in {password, unquote(password)}]


def redact_text(text, url):
    """A message about url (a library's error) with the url's passwords replaced by ***."""
    text = str(text)
    for password in sorted(passwords_in(url), key=len, reverse=True):
        text = text.replace(password, HIDDEN)
    return text
