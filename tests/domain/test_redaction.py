from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.disclosure.redaction import mask_personal_data


@pytest.mark.parametrize(
    ("text", "secret", "masked"),
    [
        ("老板电话13812345678，随时打", "13812345678", "138********"),
        ("手机 139 1234 5678 联系", "1234 5678", "139********"),
        ("+86-150-8765-4321", "8765", "150********"),
        ("座机0355-6281234", "6281234", "0355*******"),
    ],
)
def test_phone_numbers_are_masked(text: str, secret: str, masked: str) -> None:
    result = mask_personal_data(text)
    assert secret not in result
    assert masked in result


@pytest.mark.parametrize(
    "id_number", ["140425199001011234", "14042519900101123X", "140425900101123"]
)
def test_id_card_numbers_are_masked(id_number: str) -> None:
    result = mask_personal_data(f"负责人身份证号{id_number}。")
    assert id_number not in result
    assert "19900101" not in result and "900101" not in result
    assert result == f"负责人身份证号140{'*' * (len(id_number) - 3)}。"


@pytest.mark.parametrize(
    ("plate", "masked"),
    [("晋D·12345", "晋D*****"), ("晋DD12345", "晋D******"), ("京A1234学", "京A*****"),
     ("晋d 8k8k8", "晋d*****")],
)
def test_plate_numbers_are_masked(plate: str, masked: str) -> None:
    result = mask_personal_data(f"门口常停{plate}的货车堵住消防通道")
    assert plate not in result
    assert f"门口常停{masked}的货车" in result


def test_full_width_digits_do_not_slip_through() -> None:
    assert "12345678" not in mask_personal_data("电话１３８１２３４５６７８")


def test_ordinary_text_is_left_alone() -> None:
    text = "2024年3月5日核查，疏散通道堆放杂物约20平方米，限期15日内整改，罚款5000元。"
    assert mask_personal_data(text) == text
    assert mask_personal_data("") == ""
    assert mask_personal_data(None) == ""


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_personal_data("电话13812345678 车牌晋D·12345")
    assert mask_personal_data(once) == once


_PIECES = st.one_of(
    st.sampled_from(["晋D12345", "京A·1234学", "鲁BD12345", "13812345678", "+86 139 1234 5678",
                     "0355-6281234", "110101199003077777", "１３８１２３４５６７８"]),
    st.text(alphabet="0123456789０+-· XxDAB晋京新店门前堆放号码电话", max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=6).map("".join))
def test_the_shortcut_for_text_without_numbers_or_plates_masks_exactly_the_same(
        text: str) -> None:
    """Text with no digit skips the number patterns and text with no province the plates:
    the result is what every pattern applied in turn gives."""
    from portal.domain.disclosure import redaction as r

    full = text.translate(r._FULLWIDTH) if text else ""
    full = r._ID_CARD_RE.sub(r._keep_three, full)
    full = r._MOBILE_RE.sub(r._keep_prefix, full)
    full = r._LANDLINE_RE.sub(r._keep_prefix, full)
    full = r._PLATE_RE.sub(r._keep_prefix, full)
    assert mask_personal_data(text) == full
