"""Decoding uploads safely and encoding what is stored."""
import io
import warnings

from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import PayloadTooLarge, Unprocessable, UnsupportedImage

ACCEPTED_FORMATS = ("PNG", "JPEG")


def decode_upload(data, config):
    """A fully decoded RGB image from PNG or JPEG bytes; refuse anything else.

    Its sides, their ratio and its pixel count (config's storage.max_image_side,
    storage.max_aspect_ratio, storage.max_pixels) are checked from the header before any
    pixel is decoded, so a decompression bomb costs nothing; truncated files fail in load()
    and are refused.
    """
    image, _ = _decoded(data, config, draft=False)
    return image if image.mode == "RGB" else _to_rgb(image)


def check_upload(data, config):
    """The (width, height) of PNG or JPEG bytes that decode_upload would accept; refuse the rest alike.

    For an upload kept as received and decoded later: a JPEG is decoded at an eighth of its size,
    which still reads and checks every byte of it (a cut or damaged one is refused as before) but
    makes half the work of its pixels.
    """
    return _decoded(data, config, draft=True)[1]


def _decoded(data, config, draft):
    """(the loaded image, its size as its header declares it), or the refusal decode_upload describes."""
    if not data:
        raise UnsupportedImage("The image is empty.", code="empty_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            size = image.size
            check_size(*size, config)
            if draft and image.format == "JPEG":
                image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            # face_recognition and WeasyPrint switch on truncated-image loading for the
            # whole process when imported; an upload must still be refused if cut short.
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            image.load()
    except (PayloadTooLarge, Unprocessable):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge("The image declares more pixels than are accepted.", code="too_many_pixels") from None
    except UnidentifiedImageError:
        raise UnsupportedImage("The image is not a PNG or JPEG, or its header is corrupt.", code="not_an_image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnsupportedImage(f"The image is truncated or corrupt ({error}).", code="corrupt_image") from None
    return image, size


def decode_original(data):
    """The RGB image of a camshot's original, which check_upload accepted when it was received: decoded the
    same way, so its PNG has the pixels a PNG made in the request would have had."""
    image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    image.load()
    return image if image.mode == "RGB" else _to_rgb(image)


def check_size(width, height, config):
    """Refuse an image whose header declares a side, a shape or a pixel count past the configured bounds."""
    max_side, max_ratio, max_pixels = (config["storage.max_image_side"], config["storage.max_aspect_ratio"],
                                       config["storage.max_pixels"])
    if width * height > max_pixels:
        raise PayloadTooLarge(f"The image is {width}x{height} pixels; at most {max_pixels} pixels are accepted.",
                              code="too_many_pixels")
    if max(width, height) > max_side:
        raise PayloadTooLarge(f"The image is {width}x{height} pixels; neither side may be longer than {max_side} "
                              "pixels.", code="image_too_large")
    if min(width, height) < 1:
        raise UnsupportedImage(f"The image is {width}x{height} pixels: it has no pixels.", code="corrupt_image")
    if max(width, height) / min(width, height) > max_ratio:
        shape = "wide as it is tall" if width > height else "tall as it is wide"
        raise Unprocessable(f"The image is {width}x{height} pixels, {max(width, height) / min(width, height):.1f} "
                            f"times as {shape}; at most {max_ratio:g} times is accepted, as a camera's frame is.",
                            code="bad_aspect_ratio")


def _to_rgb(image):
    """Flatten alpha onto white: a transparent corner must not read as black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def fit_width(image, max_width):
    """Scale down (never up) so the image is at most max_width wide."""
    size = fitted_size(image.width, image.height, max_width)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def fitted_size(width, height, max_width):
    """(width, height) of an image of this size once fit_width has scaled it."""
    if width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def encode_png(image, compress_level, palette_colors=None):
    """PNG bytes with no metadata: only the pixels survive re-encoding.

    With palette_colors, the image is stored as PNG-8 (quantized).
    """
    if palette_colors:
        image = quantized(image, palette_colors)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def quantized(image, palette_colors):
    """The image in palette_colors colours chosen for it, as PNG-8 keeps it.

    Fast octree quantisation without dithering takes about a quarter of the time of a
    full-colour encode and a third of the bytes; dithering would add noise the face
    encoder sees and zlib cannot compress.
    """
    return image.quantize(palette_colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
