"""Reading an uploaded photo of a certificate's QR code (Pillow decodes the image, zxing-cpp
finds the code). Pillow's decompression-bomb limit and a pixel cap keep a hostile image small.
"""

from __future__ import annotations

from typing import BinaryIO

MAX_PIXELS = 25_000_000


def read_hc1(stream: BinaryIO) -> str | None:
    """The first ``HC1:`` text found in the image, or None (also for a file that is not an
    image)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(stream) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            image.load()
            gray = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    for barcode in zxingcpp.read_barcodes(gray):
        if barcode.text.startswith("HC1:"):
            return barcode.text
    return None
