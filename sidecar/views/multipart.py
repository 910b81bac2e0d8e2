"""Multipart uploads split in memory, where werkzeug's streaming parser costs as much as the rest of an upload.

A camshot's body is a few short fields and one image of some kilobytes, at most storage.max_upload_bytes, and a
signed one is already read whole for its signature. Werkzeug's parser, made for streams of any size, compiles two
regular expressions for each request's boundary and scans the body chunk by chunk: about 0.45 ms a camshot, as
much again as the sidecar's own work on it. Here the body is split on its delimiter instead (a few microseconds).

Only a body written plainly, as browsers, PHP's multipart code and the project's own clients write it, takes this
way: CRLF line breaks, no preamble, no padding after a delimiter, no folded header lines, every part with a
Content-Disposition naming it, within werkzeug's part and field size limits. Anything else goes to werkzeug's own
parser, which then answers as it always has, so a malformed or oversized body meets exactly the checks it met
before.
"""
import io

from flask import Request
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

CRLF = b"\r\n"
CHARSETS = ("ascii", "us-ascii", "utf-8", "iso-8859-1")  # werkzeug's: a field's declared charset, if one of these


class PlainMultipartParser(FormDataParser):
    """Werkzeug's form parser, with plainly written multipart bodies split in memory (plain_parts)."""

    def _parse_multipart(self, stream, mimetype, content_length, options):
        # The stream is limited to MAX_CONTENT_LENGTH (storage.max_upload_bytes): reading it whole is bounded.
        body = stream.read()
        parts = plain_parts(body, options.get("boundary", ""), self.max_form_parts, self.max_form_memory_size)
        if parts is None:
            return super()._parse_multipart(io.BytesIO(body), mimetype, content_length, options)
        fields, files = parts
        return stream, self.cls(fields), self.cls(files)


def plain_parts(body, boundary, max_parts, max_field_bytes):
    """([(name, text)], [(name, FileStorage)]) of a plainly written multipart body, as werkzeug would give them;
    None when the body is written otherwise or goes past a limit, for werkzeug to parse."""
    if not boundary or not boundary.isascii():
        return None
    delimiter = CRLF + b"--" + boundary.encode("ascii")
    if not body.startswith(delimiter[2:]):
        return None
    # The first piece is the empty preamble; the last starts with the close delimiter's "--" (an epilogue after it
    # is ignored, as werkzeug ignores it).
    *pieces, last = (CRLF + body).split(delimiter)[1:]
    if not last.startswith(b"--") or max_parts is not None and len(pieces) > max_parts:
        return None
    fields, files = [], []
    for piece in pieces:
        part = _plain_part(piece)
        if part is None:
            return None
        name, filename, headers, content = part
        if filename is not None:
            files.append((name, FileStorage(io.BytesIO(content), filename, name, headers=headers)))
            continue
        if max_field_bytes is not None and len(content) > max_field_bytes:
            return None
        fields.append((name, content.decode(_charset(headers), "replace")))
    return fields, files


def _plain_part(piece):
    """(name, filename or None, Headers, content) of one part after its delimiter, or None if it is not plain."""
    if not piece.startswith(CRLF):
        return None
    head, separator, content = piece[2:].partition(CRLF + CRLF)
    if not separator:
        return None
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        return None
    headers = Headers()
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name[0] in " \t":
            return None
        headers.add(name.strip(" \t"), value.strip(" \t"))
    if "content-disposition" not in headers:
        return None
    _, options = parse_options_header(headers["content-disposition"])
    if "name" not in options:
        return None
    return options["name"], options.get("filename"), headers, content


def _charset(headers):
    content_type = headers.get("content-type")
    charset = parse_options_header(content_type)[1].get("charset", "").lower() if content_type else ""
    return charset if charset in CHARSETS else "utf-8"


class UploadRequest(Request):
    """Flask's request, whose multipart forms are parsed by PlainMultipartParser."""

    form_data_parser_class = PlainMultipartParser
