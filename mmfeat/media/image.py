"""Decode image bytes with PIL: bomb guard from the header, EXIF orientation, one colour mode."""
import io
import warnings

from mmfeat.errors import InputError

DEFAULT_MAX_PIXELS = 40_000_000


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
