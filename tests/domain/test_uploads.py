from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from portal.config import DEFAULTS
from portal.domain.reporting.uploads import UploadError, UploadLimits, process_image
from tests import images

LIMITS = UploadLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)


def test_a_photo_is_reencoded_without_any_metadata() -> None:
    raw = images.jpeg_with_gps()
    assert b"ReporterPhoneMaker" in raw
    result = process_image(raw, LIMITS)
    stored = Image.open(io.BytesIO(result.data))
    assert stored.format == "JPEG" and stored.size == (640, 480)
    assert dict(stored.getexif()) == {}
    assert b"ReporterPhoneMaker" not in result.data and b"Zhang San" not in result.data
    assert b"secret comment" not in result.data
    assert Image.open(io.BytesIO(result.thumbnail)).size[0] <= 320


def test_a_phone_photo_is_stored_upright_at_the_maximum_edge_without_metadata() -> None:
    """A 4000×3000 photo taken with the phone upright (EXIF orientation 6) is stored as a
    1500×2000 portrait, its sensor top-left corner now top-right, with no EXIF left."""
    raw = images.phone_photo()
    result = process_image(raw, LIMITS)
    stored = Image.open(io.BytesIO(result.data))
    assert stored.size == (result.width, result.height) == (1500, 2000)
    assert _near(stored.getpixel((1500 - 20, 20)), images.MARKER)
    assert not _near(stored.getpixel((20, 20)), images.MARKER)
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.size == (240, 320)
    for image, data in ((stored, result.data), (thumb, result.thumbnail)):
        assert dict(image.getexif()) == {} and "exif" not in image.info
        assert b"ReporterPhoneMaker" not in data and b"Zhang San" not in data


@pytest.mark.parametrize(
    ("size", "max_edge", "stored"),
    [
        ((4000, 3000), 2000, (2000, 1500)),
        ((4032, 3024), 2000, (2000, 1500)),
        ((4000, 3000), 2048, (2048, 1536)),
        ((3000, 4000), 1000, (750, 1000)),
        ((640, 480), 2000, (640, 480)),  # never enlarged
    ],
)
def test_the_stored_photo_keeps_its_aspect_within_the_maximum_edge(
        size: tuple[int, int], max_edge: int, stored: tuple[int, int]) -> None:
    limits = UploadLimits(10 << 20, 40_000_000, max_edge=max_edge)
    result = process_image(images.phone_photo(size, orientation=1), limits)
    assert (result.width, result.height) == stored
    assert Image.open(io.BytesIO(result.data)).size == stored


@pytest.mark.parametrize(
    ("size", "max_edge", "decoded"),
    [
        ((4000, 3000), 2000, (2000, 1500)),  # 1/2 scale: a quarter of the pixels
        ((4000, 3000), 1000, (1000, 750)),  # 1/4
        ((4000, 3000), 2048, (4000, 3000)),  # half would be too small: decoded whole
    ],
)
def test_a_large_jpeg_is_decoded_at_reduced_scale_when_that_still_fills_the_edge(
        monkeypatch, size: tuple[int, int], max_edge: int, decoded: tuple[int, int]) -> None:
    """What the CPU saving rests on (timed in bench/photos.py, not here): libjpeg's draft
    mode hands over fewer pixels, and never fewer than the stored edge needs."""
    seen: list[tuple[int, int]] = []
    transpose = ImageOps.exif_transpose

    def spy(image, **kwargs):  # the first step after decoding
        seen.append(image.size)
        return transpose(image, **kwargs)

    monkeypatch.setattr(ImageOps, "exif_transpose", spy)
    process_image(images.phone_photo(size), UploadLimits(10 << 20, 40_000_000, max_edge))
    assert seen == [decoded]


def test_the_pixel_limit_counts_the_photo_as_sent_not_as_decoded() -> None:
    """The decompression-bomb guard reads the header's size before any reduced decoding."""
    with pytest.raises(UploadError, match="4000×3000"):
        process_image(images.phone_photo(), UploadLimits(10 << 20, 5_000_000))


def test_a_truncated_large_jpeg_is_refused_though_decoded_at_reduced_scale() -> None:
    raw = images.phone_photo()
    with pytest.raises(UploadError, match="不是有效的图片"):
        process_image(raw[: len(raw) // 2], LIMITS)


def test_the_default_maximum_edge_is_the_settings_default() -> None:
    assert UploadLimits(1, 1).max_edge == DEFAULTS["PHOTO_MAX_EDGE"]


def _near(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True))


def test_png_with_transparency_becomes_an_opaque_jpeg() -> None:
    result = process_image(images.png(), LIMITS)
    assert Image.open(io.BytesIO(result.data)).mode == "RGB"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "空文件"),
        (b"this is a text file pretending to be a photo", "不是有效的图片"),
        (images.truncated_jpeg(), "不是有效的图片"),
        (images.png_bomb(), "像素过大"),
        (images.gif(), "格式不支持"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
         "不是有效的图片"),
    ],
)
def test_bad_files_are_refused_with_a_chinese_reason(raw: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        process_image(raw, LIMITS)


def test_limits_on_bytes_and_pixels() -> None:
    with pytest.raises(UploadError, match="超过 1 MB"):
        process_image(b"x" * (1024 * 1024 + 1), UploadLimits(1024 * 1024, 40_000_000))
    with pytest.raises(UploadError, match="像素过大"):
        process_image(images.png((2000, 2000), "L"), UploadLimits(10 << 20, 1_000_000))


def test_a_failed_thumbnail_write_removes_the_main_file(tmp_path) -> None:
    """Blurred copies and commitment letters are stored outside the report form: a thumbnail
    that cannot be written (a full disk) takes its main file with it."""
    import errno

    from portal.domain.reporting.uploads import store_image
    from portal.storage import DirectoryStorage

    class FullAfterOne(DirectoryStorage):
        def put(self, name: str, data: bytes) -> None:
            if name.endswith("_t.jpg"):
                raise OSError(errno.ENOSPC, "No space left on device")
            super().put(name, data)

    store = FullAfterOne(tmp_path)
    with pytest.raises(OSError):
        store_image(None, store, process_image(images.jpeg_with_gps(), LIMITS))  # type: ignore[arg-type]
    assert store.names() == [] and list(tmp_path.iterdir()) == []
