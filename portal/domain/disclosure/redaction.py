"""Masking of personal data in any text bound for the public.

``mask_personal_data`` is the one function that does it: every public page, feed and export
passes its free text (unit names, addresses, public summaries, timeline entries) through it,
and a moderator's preview shows its result before anything is published. It masks:

- mainland ID-card numbers (18 digits, the last possibly X; the old 15-digit form too),
- mobile numbers (11 digits starting 13–19, with or without +86 and spaces or dashes),
- landline numbers with an area code (0355-1234567, 0355 12345678),
- vehicle plates (晋D·12345, 晋DD12345 for new-energy plates, 晋D 1234学).

Only a short prefix survives (the province and issuing letter of a plate, the first three
digits of a number), so that a reader still sees that a number was there.
"""

from __future__ import annotations

import re

MASK = "*"

# Full-width digits and letters are how some phone keyboards type numbers; treat them alike.
_FULLWIDTH = str.maketrans(
    "０１２３４５６７８９ＸｘＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＳＴＵＶＷＸＹＺ－＋",
    "0123456789XxABCDEFGHJKLMNPQRSTUVWXYZ-+",
)

_SEP = r"[ \-－—·•.]?"
_ID_CARD_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8}\d{3}[0-9Xx]|\d{9})(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(
    r"(?<![0-9])((?:\+?86[ \-]?)?1[3-9]\d)(" + _SEP + r"\d{4}" + _SEP + r"\d{4})(?![0-9])"
)
_LANDLINE_RE = re.compile(r"(?<![0-9])(0\d{2,3})([ \-－—]?\d{7,8})(?![0-9])")
_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_RE = re.compile(
    r"([" + _PLATE_PROVINCES + r"][A-HJ-NP-Za-hj-np-z])"
    r"([ ·•.\-]?[A-HJ-NP-Za-hj-np-z0-9]{4,5}(?:[A-HJ-NP-Za-hj-np-z0-9]|[挂学警港澳领试超])"
    r")(?![0-9A-Za-z])"
)


# Every number above has a digit and every plate a province: text with neither (most unit
# names and summaries) is returned after two searches instead of four substitutions.
_DIGIT_RE = re.compile(r"\d")
_PROVINCE_RE = re.compile(r"[" + _PLATE_PROVINCES + r"]")


def _keep_prefix(match: re.Match[str]) -> str:
    hidden = match.group(2)
    return match.group(1) + MASK * sum(ch.isalnum() for ch in hidden)


def _keep_three(match: re.Match[str]) -> str:
    number = match.group(0)
    digits = [ch for ch in number if ch.isalnum()]
    return "".join(digits[:3]) + MASK * (len(digits) - 3)


def mask_personal_data(text: str | None) -> str:
    """The text with phone, ID-card and plate numbers masked; safe to call more than once."""
    if not text:
        return ""
    text = text.translate(_FULLWIDTH)
    if _DIGIT_RE.search(text):
        # Longest first: an ID-card number contains runs that look like phone numbers.
        text = _ID_CARD_RE.sub(_keep_three, text)
        text = _MOBILE_RE.sub(_keep_prefix, text)
        text = _LANDLINE_RE.sub(_keep_prefix, text)
    return _PLATE_RE.sub(_keep_prefix, text) if _PROVINCE_RE.search(text) else text
