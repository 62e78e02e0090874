"""GeoReport v2 documents in JSON and XML, with the element names the specification uses.

Every response body is built here from plain dicts and lists, so both formats always carry the
same fields in the same order.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json", "xml": "text/xml"}

# A list under one of these names holds elements of the singular name.
_ITEM_NAMES = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "jurisdictions": "jurisdiction",
}


# Characters XML 1.0 cannot carry at all, not even escaped (most C0 controls, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        item_name = _ITEM_NAMES[element.tag]
        for child in value:
            _fill(ET.SubElement(element, item_name), child)
    else:
        element.text = _text(value)


def to_xml(root: str, item: str | None, body: Any) -> bytes:
    """``body`` as XML: a list becomes ``<root><item>…</item>…</root>``, a dict ``<root>…``."""
    element = ET.Element(root)
    if item is not None:
        for entry in body:
            _fill(ET.SubElement(element, item), entry)
    else:
        _fill(element, body)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def respond(fmt: str, root: str, item: str | None, body: Any, status: int = 200) -> Response:
    """One document in the requested format. ``item`` is None for a single object."""
    if fmt == "xml":
        data = to_xml(root, item, body)
    else:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(data, status=status, content_type=f"{MIMETYPES[fmt]}; charset=utf-8")


def requests(fmt: str, rows: Iterable[Mapping[str, Any]], status: int = 200) -> Response:
    return respond(fmt, "service_requests", "request", list(rows), status)


def errors(fmt: str, status: int, *descriptions: str) -> Response:
    """The specification's error array: one ``{code, description}`` per problem."""
    body = [{"code": status, "description": text} for text in descriptions]
    return respond(fmt, "errors", "error", body, status)
