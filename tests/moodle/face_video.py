"""Webcam videos for Chromium's fake camera, made from the shared face photos.

Chromium plays a YUV4MPEG2 file (`--use-file-for-fake-video-capture=<file>.y4m`) as the camera, in a
loop. Each video here is a few stretches of still pictures: a face, then an empty room (no face),
then the face again, so an attempt's camshots show both.
"""
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sidecar.analysis.faces import load_face_recognition
from sidecar.demo import webcam_picture

WIDTH, HEIGHT, FPS = 320, 240, 5


def picture(photo, centre=(0.5, 0.5), width=WIDTH, height=HEIGHT):
    """The photo scaled to cover the frame and cropped around centre (fractions of its width and height,
    e.g. where the face is, so that a portrait keeps its eyes), as RGB."""
    with Image.open(photo) as image:
        image = image.convert("RGB")
        scale = max(width / image.width, height / image.height)
        image = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))),
                             Image.LANCZOS)
        left = min(max(0, round(image.width * centre[0] - width / 2)), image.width - width)
        top = min(max(0, round(image.height * centre[1] - height / 2)), image.height - height)
        return image.crop((left, top, left + width, top + height))


def empty_room(width=WIDTH, height=HEIGHT):
    """A plain room: a wall, a floor, a door; no face anywhere."""
    room = Image.new("RGB", (width, height), (196, 186, 170))
    draw = ImageDraw.Draw(room)
    draw.rectangle((0, int(height * 0.72), width, height), fill=(120, 96, 72))
    draw.rectangle((int(width * 0.62), int(height * 0.2), int(width * 0.82), int(height * 0.72)), fill=(150, 120, 90))
    draw.ellipse((int(width * 0.78), int(height * 0.46), int(width * 0.8), int(height * 0.49)), fill=(60, 50, 40))
    return room


def i420(image):
    """RGB picture to the Y, U and V planes of I420 (BT.601, full range, as C420jpeg says)."""
    rgb = np.asarray(image, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    # Chroma at half resolution: the mean of each 2x2 block.
    u = u.reshape(u.shape[0] // 2, 2, u.shape[1] // 2, 2).mean(axis=(1, 3))
    v = v.reshape(v.shape[0] // 2, 2, v.shape[1] // 2, 2).mean(axis=(1, 3))
    return b"".join(np.clip(plane + 0.5, 0, 255).astype(np.uint8).tobytes() for plane in (y, u, v))


def write_y4m(path, stretches, fps=FPS):
    """Write stretches [(RGB picture, seconds), ...] as one Y4M video; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = stretches[0][0].size
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image, seconds in stretches:
            frame = b"FRAME\n" + i420(image)
            for _ in range(max(1, round(seconds * fps))):
                out.write(frame)
    return path


def read_y4m(path):
    """(width, height, fps, frames as RGB numpy arrays) of a video written by write_y4m, to check it."""
    data = Path(path).read_bytes()
    header, _, rest = data.partition(b"\n")
    fields = dict((part[:1].decode(), part[1:].decode()) for part in header.split()[1:])
    width, height = int(fields["W"]), int(fields["H"])
    numerator, denominator = map(int, fields["F"].split(":"))
    size = width * height * 3 // 2
    frames = []
    while rest:
        assert rest.startswith(b"FRAME\n"), "each frame starts with FRAME"
        planes = np.frombuffer(rest[6:6 + size], dtype=np.uint8).astype(np.float32)
        rest = rest[6 + size:]
        y = planes[:width * height].reshape(height, width)
        u = planes[width * height:width * height * 5 // 4].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
        v = planes[width * height * 5 // 4:].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
        rgb = np.stack([y + 1.402 * (v - 128), y - 0.344136 * (u - 128) - 0.714136 * (v - 128),
                        y + 1.772 * (u - 128)], axis=-1)
        frames.append(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))
    return width, height, numerator / denominator, frames


def face_video(path, face_photo, face_seconds=8, empty_seconds=4, last_face_seconds=None, centre=(0.5, 0.5)):
    """The face for a while, the empty room, the face again (last_face_seconds, default face_seconds).

    Chromium starts the file from its first frame each time a page opens the camera, so the stretches
    are timed from that moment, then loop."""
    face = picture(face_photo, centre)
    last = face_seconds if last_face_seconds is None else last_face_seconds
    return write_y4m(path, [(face, face_seconds), (empty_room(), empty_seconds), (face, last)])


def coming_closer_video(path, photo):
    """A student who sits back, leans in and stays close, then sits back again: a cycle of 3.6 s, shorter than
    the 4 s over which the page takes its frames, so that wherever they begin in the loop, a frame of the
    face far comes before one of the face close."""
    rng = random.Random(0)
    face_recognition = load_face_recognition()
    zooms = [1.0] * 8 + [1.15, 1.3, 1.45] + [1.6] * 7
    return write_y4m(path, [(webcam_picture(photo, rng, face_recognition, zoom), 1 / FPS) for zoom in zooms])


def still_photo_video(path, photo):
    """A photo held before the camera, that does not move."""
    picture = webcam_picture(photo, random.Random(0), load_face_recognition())
    return write_y4m(path, [(picture, 10)])
