"""Reporter identity: encrypted at rest, decrypted only for those allowed to see it.

Names and phones are Fernet tokens (MultiFernet, so keys can be rotated: the first key encrypts,
every key decrypts). They are never logged and never leave the office.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

RECEIPT_DIGITS = 16

# Chinese mobile numbers, and landlines with an area code (0xx / 0xxx), optional extension.
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,5})?$")


class IdentityCipher:
    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])

    def encrypt(self, value: str) -> bytes | None:
        return self._fernet.encrypt(value.encode()) if value else None

    def decrypt(self, token: bytes | None) -> str:
        if not token:
            return ""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            return "（无法解密：密钥已更换）"


@dataclass(frozen=True)
class ReporterIdentity:
    name: str
    phone: str

    @property
    def anonymous(self) -> bool:
        return not (self.name or self.phone)


def is_mobile(number: str) -> bool:
    """A mainland mobile number in canonical form (what an SMS can reach)."""
    return bool(_MOBILE_RE.match(number))


def normalize_phone(raw: str) -> str | None:
    """A valid Chinese mobile or landline number in canonical form, or None.

    Spaces, full-width digits and a +86 prefix are accepted as people type them.
    """
    value = raw.strip().translate(str.maketrans("０１２３４５６７８９－", "0123456789-"))
    value = re.sub(r"[\s()（）]", "", value)
    value = re.sub(r"^(\+?86)", "", value)
    if _MOBILE_RE.match(value):
        return value
    if _LANDLINE_RE.match(value):
        return value
    return None


def new_receipt_code() -> str:
    return f"{secrets.randbelow(10**RECEIPT_DIGITS):0{RECEIPT_DIGITS}d}"


def normalize_receipt(raw: str) -> str | None:
    """Digits of a receipt as typed (spaces, dashes, full-width digits allowed), or None."""
    digits = re.sub(r"[\s\-－—_]", "", raw.translate(str.maketrans("０１２３４５６７８９",
                                                                   "0123456789")))
    return digits if re.fullmatch(rf"\d{{{RECEIPT_DIGITS}}}", digits) else None


def group_receipt(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def receipt_hash(key: str, code: str) -> str:
    """Keyed hash: a stolen database alone cannot be searched for codes."""
    return hmac.new(key.encode(), code.encode(), hashlib.sha256).hexdigest()


# Labels keep the keyed hashes below apart from ``receipt_hash`` (whose input is 16 digits).
_SUBMISSION_LABEL = b"submission-key\x00"
_RECEIPT_LABEL = b"receipt-from-submission\x00"


def submission_hash(key: str, submission_key: str) -> str:
    """What is stored of a form's submission key: it finds a resubmitted form's tip, and a
    database or an access log alone cannot tie a key to a tip."""
    return hmac.new(key.encode(), _SUBMISSION_LABEL + submission_key.encode(),
                    hashlib.sha256).hexdigest()


def receipt_for_submission(key: str, submission_key: str) -> str:
    """The receipt code of a web form, derived from its submission key with the server's
    secret: a resubmit of the same form can show the same code again without the code being
    kept anywhere."""
    digest = hmac.new(key.encode(), _RECEIPT_LABEL + submission_key.encode(),
                      hashlib.sha256).digest()
    return f"{int.from_bytes(digest, 'big') % 10**RECEIPT_DIGITS:0{RECEIPT_DIGITS}d}"
