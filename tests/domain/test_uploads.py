from __future__ import annotations

import io

import pytest
from PIL import Image

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
