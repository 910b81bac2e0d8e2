"""Multipart bodies split in memory (sidecar/views/multipart.py) give what werkzeug's parser gives, plain bodies
take that way, and every other body, malformed or past a limit, is left to werkzeug's parser."""
import io

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder

from conftest import face_bytes
from sidecar.client import multipart
from sidecar.views.multipart import PlainMultipartParser, plain_parts

BOUNDARY = "proctorpy0123456789abcdef01234567"
JPEG = face_bytes("obama/obama-480p.jpg", fmt="JPEG")
MAX_PARTS, MAX_FIELD_BYTES = 1000, 500_000  # Flask's MAX_FORM_PARTS and MAX_FORM_MEMORY_SIZE, which the sidecar keeps


def part(name, value, filename=None, content_type=None, boundary=BOUNDARY):
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def body(*parts, boundary=BOUNDARY, epilogue=b""):
    return b"".join(parts) + f"--{boundary}--\r\n".encode() + epilogue


def upload(boundary=BOUNDARY):
    """A camshot's body as the Moodle plugin and the capture module write it."""
    return body(part("attempt_id", b"7", boundary=boundary), part("user_id", b"5", boundary=boundary),
                part("taken_at", b"1796586040000", boundary=boundary),
                part("client_shot_id", b"k-1", boundary=boundary),
                part("image", JPEG, "camshot.jpg", "image/jpeg", boundary=boundary), boundary=boundary)


def parsed(parser_class, data, content_type=f"multipart/form-data; boundary={BOUNDARY}"):
    """What a parser makes of a body: its fields and files, or the HTTP error it raises."""
    environ = EnvironBuilder(method="POST", input_stream=io.BytesIO(data), content_type=content_type,
                             content_length=len(data)).get_environ()
    # Files kept in memory: werkzeug leaves the temporary file of a part it gives up on to the garbage collector.
    parser = parser_class(lambda **_: io.BytesIO(), max_form_memory_size=MAX_FIELD_BYTES, max_form_parts=MAX_PARTS)
    try:
        _, form, files = parser.parse_from_environ(environ)
    except RequestEntityTooLarge as error:
        return type(error)
    return (list(form.items(multi=True)),
            [(name, upload.filename, upload.name, upload.content_type, list(upload.headers.items()), upload.read())
             for name, upload in files.items(multi=True)])


PLAIN = {
    "a camshot as Moodle forwards it": upload(),
    "the project's own client's": multipart({"attempt_id": 3, "kind": "attempt"},
                                            {"frame": [("a.jpg", JPEG, "image/jpeg"), ("b.png", b"\x89PNG", "image/png")]})[0],
    "repeated names, an empty file and an empty field": body(
        part("frame", b"1", "a.jpg", "image/jpeg"), part("frame", b"", "b.jpg", "image/jpeg"), part("note", b""),
        part("note", b"second")),
    "an empty filename (a file, to werkzeug)": body(part("image", JPEG, "", "application/octet-stream")),
    "UTF-8 and a declared Latin-1 field": body(part("name", "Zoë".encode()),
                                               part("latin", "Zoë".encode("iso-8859-1"),
                                                    content_type="text/plain; charset=iso-8859-1")),
    "invalid UTF-8 in a field, replaced": body(part("name", b"\xff\xfe")),
    "a field holding the boundary, not after a line break": body(part("text", f"a --{BOUNDARY}--\r\n".encode())),
    "an epilogue": body(part("a", b"1"), epilogue=b"ignored\r\n"),
    "a quoted name with an escaped quote": f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a\\"b"\r\n\r\n'
                                           f'1\r\n--{BOUNDARY}--\r\n'.encode(),
}

NOT_PLAIN = {
    "a preamble": b"preamble\r\n" + upload(),
    "LF line breaks": upload().replace(b"\r\n", b"\n"),
    "padding after a delimiter": upload().replace(f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY}  \r\n".encode(), 1),
    "a folded header": f'--{BOUNDARY}\r\nContent-Disposition: form-data;\r\n name="a"\r\n\r\n1\r\n'
                       f'--{BOUNDARY}--\r\n'.encode(),
    "no close delimiter": upload()[:-len(f"--{BOUNDARY}--\r\n")],
    "cut in the image": upload()[:len(upload()) // 2],
    "no Content-Disposition": f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\n1\r\n--{BOUNDARY}--\r\n".encode(),
    "no name": f'--{BOUNDARY}\r\nContent-Disposition: form-data; filename="a"\r\n\r\n1\r\n--{BOUNDARY}--\r\n'.encode(),
    "no headers at all": f"--{BOUNDARY}\r\n\r\n1\r\n--{BOUNDARY}--\r\n".encode(),
    "a header line without a colon": f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\nbroken\r\n\r\n1'
                                     f'\r\n--{BOUNDARY}--\r\n'.encode(),
    "headers that are not UTF-8": f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="'.encode() + b"\xff"
                                  + f'"\r\n\r\n1\r\n--{BOUNDARY}--\r\n'.encode(),
    "a close delimiter before the last part": body(part("a", b"1")) + body(part("b", b"2")),
    "the boundary as the start of a longer line": body(part("a", b"1" + f"\r\n--{BOUNDARY}x".encode())),
    "more parts than the limit": body(*(part(f"f{n}", b"1") for n in range(MAX_PARTS + 1))),
    "a field past the memory limit": body(part("big", b"x" * (MAX_FIELD_BYTES + 1))),
    "empty": b"",
}


@pytest.mark.parametrize("data", PLAIN.values(), ids=PLAIN.keys())
def test_a_plain_body_is_split_in_memory_into_what_werkzeug_gives(data):
    boundary = BOUNDARY if data.startswith(f"--{BOUNDARY}".encode()) else data[2:data.index(b"\r\n")].decode()
    assert plain_parts(data, boundary, MAX_PARTS, MAX_FIELD_BYTES) is not None
    content_type = f"multipart/form-data; boundary={boundary}"
    assert parsed(PlainMultipartParser, data, content_type) == parsed(FormDataParser, data, content_type)


@pytest.mark.parametrize("data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_any_other_body_is_left_to_werkzeug_which_answers_as_before(data):
    assert plain_parts(data, BOUNDARY, MAX_PARTS, MAX_FIELD_BYTES) is None
    assert parsed(PlainMultipartParser, data) == parsed(FormDataParser, data)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          "multipart/form-data; boundary=b\u00f6undary"])
def test_a_missing_or_foreign_boundary_is_left_to_werkzeug(content_type):
    assert parsed(PlainMultipartParser, upload(), content_type) == parsed(FormDataParser, upload(), content_type)


def test_the_sidecar_parses_uploads_this_way(app):
    assert app.request_class.form_data_parser_class is PlainMultipartParser
