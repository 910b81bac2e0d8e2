"""Bytes per camshot and face verification accuracy of stored camshots: RGB vs palette PNG.

Each single-person photo of the shared test set becomes a 320x240 webcam-like frame (the largest
4:3 window around the face, scaled down), is sent as the capture module sends it (JPEG q85), and
is stored through the sidecar's own decode and encode path in each variant. The real
face_recognition calls then run on the pixels decoded from the stored PNG, which is what
analysis reads and what the teacher sees. RGB PNG is lossless, so its pixels are exactly the
original (the decoded upload) before any quantisation.

Accuracy is over every pair of frames: same person when the face distance is at most the
sidecar's match threshold. FAR: pairs of different people accepted; FRR: pairs of the same
person refused, a frame with no face found counting as refused.

    .venv/bin/python bench/storage.py [--colors 256 128 64] [--width 320]
"""
import argparse
import io
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import face_recognition
import numpy
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sidecar.config import DEFAULTS  # noqa: E402
from sidecar.images import decode_upload, encode_png  # noqa: E402

FACES = REPO.parent / "shared" / "testdata" / "faces"
PEOPLE = ("obama", "biden", "alex_lacamoire", "kit_harington", "rose_leslie", "lin_manuel_miranda",
          "eileen_collins")  # folders with one person per photo; multi/, noface/, misc/ are left out
THRESHOLD = DEFAULTS["analysis.match_threshold"]
COMPRESS = DEFAULTS["storage.png_compress_level"]
DETECT_WIDTH = 800  # originals are scaled to this for locating the face to frame


def webcam_frame(path, frame_size):
    """The largest 4:3 window of the photo centred on its face, at frame_size, or None without one face."""
    with Image.open(path) as photo:
        photo = photo.convert("RGB")
    scale = min(1.0, DETECT_WIDTH / photo.width)
    small = photo.resize((round(photo.width * scale), round(photo.height * scale))) if scale < 1 else photo
    boxes = face_recognition.face_locations(numpy.asarray(small), number_of_times_to_upsample=1, model="hog")
    if len(boxes) != 1:
        return None
    top, right, bottom, left = (v / scale for v in boxes[0])
    width = min(photo.width, photo.height * 4 / 3)
    height = width * 3 / 4
    x = min(max(0, (left + right) / 2 - width / 2), photo.width - width)
    y = min(max(0, (top + bottom) / 2 - height / 2), photo.height - height)
    frame = photo.crop((round(x), round(y), round(x + width), round(y + height))).resize(frame_size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=85)
    return out.getvalue()


def store(upload, colors):
    """PNG bytes as the sidecar stores the upload, and seconds spent encoding them."""
    image = decode_upload(upload, DEFAULTS["storage.max_pixels"])
    started = time.perf_counter()
    png = encode_png(image, COMPRESS, colors)
    return png, time.perf_counter() - started


def encoding(png):
    """The face encoding analysis finds in the stored image, None when it finds no single face."""
    with Image.open(io.BytesIO(png)) as stored:
        pixels = numpy.asarray(stored.convert("RGB"))
    boxes = face_recognition.face_locations(pixels, number_of_times_to_upsample=1, model="hog")
    if len(boxes) != 1:
        return None
    return face_recognition.face_encodings(pixels, boxes)[0]


def verification(frames, encodings):
    """Accuracy, FAR, FRR over all pairs, and the distances of the pairs both faces were found in."""
    genuine = impostor = false_accepts = false_rejects = 0
    distances = {}
    for (i, a), (j, b) in itertools.combinations(enumerate(frames), 2):
        same = a[0] == b[0]
        if encodings[i] is None or encodings[j] is None:
            accepted = False
        else:
            distance = float(face_recognition.face_distance([encodings[i]], encodings[j])[0])
            distances[(i, j)] = distance
            accepted = distance <= THRESHOLD
        if same:
            genuine += 1
            false_rejects += not accepted
        else:
            impostor += 1
            false_accepts += accepted
    return {"accuracy": 1 - (false_accepts + false_rejects) / (genuine + impostor), "far": false_accepts / impostor,
            "frr": false_rejects / genuine, "pairs": (genuine, impostor), "distances": distances}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colors", type=int, nargs="+", default=[256, 128, 64], help="palette sizes to measure")
    parser.add_argument("--width", type=int, default=320, help="frame width; frames are 4:3 (default 320)")
    args = parser.parse_args()
    frame_size = (args.width, args.width * 3 // 4)
    frames = []
    for person in PEOPLE:
        for path in sorted((FACES / person).iterdir()):
            upload = webcam_frame(path, frame_size)
            if upload:
                frames.append((person, path.name, upload))
    print(f"machine: {os.cpu_count()} cores; {len(frames)} frames of {len({f[0] for f in frames})} people at "
          f"{frame_size[0]}x{frame_size[1]}, sent as JPEG q85 (mean {statistics.mean(len(f[2]) for f in frames) / 1024:.1f} KB); "
          f"HOG detector, upsample 1; match threshold {THRESHOLD}; zlib level {COMPRESS}")
    variants = [("rgb", None)] + [(f"palette {n}", n) for n in args.colors]
    results = {}
    for name, colors in variants:
        stored = [store(upload, colors) for _, _, upload in frames]
        encodings = [encoding(png) for png, _ in stored]
        results[name] = {
            "bytes": statistics.mean(len(png) for png, _ in stored),
            "max_bytes": max(len(png) for png, _ in stored),
            "encode_ms": statistics.median(seconds for _, seconds in stored) * 1000,
            "found": sum(e is not None for e in encodings),
            **verification(frames, encodings),
        }
    rgb = results["rgb"]
    genuine, impostor = rgb["pairs"]
    print(f"{genuine} same-person pairs, {impostor} different-person pairs")
    print(f"{'stored as':<12} {'mean KB':>8} {'max KB':>7} {'encode ms':>9} {'faces':>6} {'accuracy':>9} "
          f"{'FAR':>6} {'FRR':>6} {'|d - d_rgb| mean/max':>21}")
    for name, r in results.items():
        shifts = [abs(d - rgb["distances"][pair]) for pair, d in r["distances"].items() if pair in rgb["distances"]]
        shift = f"{statistics.mean(shifts):.4f} / {max(shifts):.4f}" if name != "rgb" and shifts else "-"
        print(f"{name:<12} {r['bytes'] / 1024:8.1f} {r['max_bytes'] / 1024:7.1f} {r['encode_ms']:9.2f} "
              f"{r['found']:>3}/{len(frames):<2} {r['accuracy'] * 100:8.2f}% {r['far'] * 100:5.2f}% {r['frr'] * 100:5.2f}% "
              f"{shift:>21}")
    print("bars (at 320x240): <= 30 KB per camshot at the default; accuracy within 1 point of rgb")
    for name, r in results.items():
        if name != "rgb":
            size = "meets" if r["bytes"] <= 30 * 1024 else "misses"
            accuracy = "meets" if rgb["accuracy"] - r["accuracy"] <= 0.01 else "misses"
            print(f"  {name}: bytes {size} ({r['bytes'] / rgb['bytes'] * 100:.0f}% of rgb's), accuracy {accuracy} "
                  f"({(r['accuracy'] - rgb['accuracy']) * 100:+.2f} points)")


if __name__ == "__main__":
    main()
