"""The one place rich text is made: plain text in, safe HTML out (bleach is imported nowhere
else). Everything else the portal shows is plain text that Jinja escapes."""

from __future__ import annotations

import html

import bleach
from bleach.linkifier import Linker

ALLOWED_TAGS = frozenset({"p", "br", "a"})
ALLOWED_ATTRIBUTES = {"a": ["href", "rel"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https"})


def _no_follow(attrs: dict, new: bool = False) -> dict:
    attrs[(None, "rel")] = "nofollow noopener"
    return attrs


_linker = Linker(callbacks=[_no_follow], parse_email=False)


def paragraphs(text: str) -> str:
    """Paragraphs and line breaks of a published text, with its web addresses made links.

    The text is escaped first, so nothing a writer types becomes markup; bleach then only adds
    links and a final clean guarantees the allow-list."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    body = "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>"
        for block in blocks
    )
    return bleach.clean(_linker.linkify(body), tags=ALLOWED_TAGS,
                        attributes=ALLOWED_ATTRIBUTES, protocols=ALLOWED_PROTOCOLS, strip=True)
