"""Decode image bytes with PIL: bomb guard from the header, EXIF orientation, one colour mode.

High bit depths are scaled, not clipped: 16-bit images (``I;16``) map 0..65535
to 0..255; 32-bit integer images (``I``) likewise when their values exceed 255;
float images (``F``, e.g. float32 TIFF) map 0..1 to 0..255 and, when their
values leave 0..1, their own min..max. Non-finite float pixels are refused.
"""
import io
import warnings

import numpy as np

from mmfeat.errors import InputError

DEFAULT_MAX_PIXELS = 40_000_000
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def to_8bit(image):
    """A high-bit-depth or float single-channel PIL image as an ``L`` image, scaled (see module doc)."""
    from PIL import Image

    pixels = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        if not np.isfinite(pixels).all():
            raise InputError("float image holds NaN or infinite pixels")
        low, high = (0.0, 1.0) if pixels.size == 0 or (pixels.min() >= 0 and pixels.max() <= 1) else \
            (float(pixels.min()), float(pixels.max()))
        pixels = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
    elif image.mode != "I" or pixels.max(initial=0) > 255:
        high = 65535.0 if image.mode != "I" or pixels.max(initial=0) <= 65535 else float(pixels.max())
        pixels = np.clip(pixels, 0, None) * (255.0 / high)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")


def decode_image(data: bytes, *, mode: str = "RGB", max_pixels: int = DEFAULT_MAX_PIXELS):
    """Return a fully loaded PIL image in ``mode``; ``InputError`` for anything PIL cannot decode safely.

    The pixel count is checked from the header before any pixel is decoded, so a
    small file declaring huge dimensions (a decompression bomb) is refused
    without allocating it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise InputError(f"image is {width}x{height} = {width * height} pixels, more than "
                             f"max_pixels={max_pixels} (possible decompression bomb)")
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode in _WIDE_MODES:
            image = to_8bit(image)
        if image.mode != mode:
            if image.mode in ("P", "LA", "PA", "RGBA") and mode == "RGB":
                # Composite transparency onto white rather than whatever the hidden pixels hold.
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            image = image.convert(mode)
        return image
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError("not an image PIL can identify (wrong file type or corrupt header)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"image too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # PIL reports truncated and corrupt data as OSError (sometimes SyntaxError for bad PNG chunks).
        raise InputError(f"corrupt or truncated image: {exc}") from None
