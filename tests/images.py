"""Image files for upload tests, made on the fly."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825


ORIENTATION = 0x0112
MARKER = (0, 200, 0)  # the phone photo's top-left corner, as the sensor saw it


def jpeg_with_gps(size: tuple[int, int] = (640, 480)) -> bytes:
    return _identifying_jpeg(Image.new("RGB", size, (200, 40, 40)))


@functools.cache
def phone_photo(size: tuple[int, int] = (4000, 3000), orientation: int = 6) -> bytes:
    """A 12 MP phone photo as the sensor wrote it: landscape pixels with a green block in
    the top-left corner, EXIF saying how to turn it (6: the phone was held upright, turn 90°
    clockwise), and the phone's identifying EXIF and GPS."""
    image = Image.new("RGB", size, (40, 40, 200))
    image.paste(MARKER, (0, 0, size[0] // 8, size[1] // 8))
    return _identifying_jpeg(image, orientation)


def _identifying_jpeg(image: Image.Image, orientation: int | None = None) -> bytes:
    exif = image.getexif()
    exif[0x010F] = "ReporterPhoneMaker"  # Make
    exif[0x013B] = "Zhang San"  # Artist
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (36.0, 10.0, 0.0), 3: "E", 4: (113.0, 20.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"secret comment")
    return out.getvalue()


def png(size: tuple[int, int] = (300, 200), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg_with_gps((1200, 900))
    return data[: len(data) // 2]


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims a huge size (decompression bomb)."""
    data = bytearray(png((1, 1), "L"))
    ihdr_start = 8 + 4 + 4  # signature, length, type
    data[ihdr_start : ihdr_start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr_start + 13]))
    data[ihdr_start + 13 : ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    return out.getvalue()
