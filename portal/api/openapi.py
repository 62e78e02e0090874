"""The OpenAPI 3 description of the GeoReport v2 endpoints, served at /open311/v2/openapi.json.

The property-based test in tests/api runs against this document, so it is the contract: a
response that it does not describe is a bug in one or the other.
"""

from __future__ import annotations

from typing import Any

from portal.api.records import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# A disclosed case's id, or T and a partner's own tip's id.
_ID = "T?[1-9][0-9]{0,8}"
_NULLABLE_STRING = {"type": "string", "nullable": True}
_NULLABLE_NUMBER = {"type": "number", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _content(json_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "application/json": {"schema": json_schema},
        "text/xml": {"schema": {"type": "string"}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Invalid parameters; each problem is one error.",
        403: "api_key missing, invalid or revoked.",
        404: "Not found (also: a format other than json or xml).",
        429: "Too many requests: posts per api_key and per client address, reads per "
             "client address.",
    }
    return {
        str(code): {"description": text[code], "content": _content(_array_of("Error"))}
        for code in codes
    }


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": description, "content": _content(schema)}}


# GET requests answers like the public pages: ETag and Last-Modified, 304 when unchanged.
_CACHED = {
    "ETag": {"description": "The page's version; send it back as If-None-Match.",
             "schema": {"type": "string"}},
    "Last-Modified": {"schema": {"type": "string"}},
}
_NEXT_LINK = {
    "Link": {
        "description": 'Extension: `<URL>; rel="next"`, the next page (the same parameters '
                       "with `after` moved on); absent on the last page.",
        "schema": {"type": "string"},
    },
}


_FORMAT = {
    "name": "format", "in": "path", "required": True,
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
_JURISDICTION = {
    "name": "jurisdiction_id", "in": "query", "required": False,
    "description": "A township's code (see discovery's `jurisdictions`): its villages only; "
                   "none: the whole county. Unknown: 404. A key of one township may name only "
                   "its own, which is also what it gets without one.",
    "schema": {"type": "string"},
}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
    "Discovery": {
        "type": "object", "required": ["changeset", "contact", "key_service", "endpoints"],
        "properties": {
            "changeset": {"type": "string"},
            "contact": {"type": "string"},
            "key_service": {"type": "string"},
            "endpoints": {"type": "array", "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "properties": {
                    "specification": {"type": "string"},
                    "url": {"type": "string"},
                    "changeset": {"type": "string"},
                    "type": {"type": "string", "enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}},
                },
            }},
            "jurisdictions": {"type": "array", "description": "Extension: the townships.",
                              "items": {
                "type": "object", "required": ["jurisdiction_id", "name"],
                "properties": {"jurisdiction_id": {"type": "string"},
                               "name": {"type": "string"}},
            }},
        },
    },
    "Service": {
        "type": "object",
        "required": ["service_code", "service_name", "description", "metadata", "type",
                     "keywords", "group"],
        "properties": {
            "service_code": {"type": "string"},
            "service_name": {"type": "string"},
            "description": {"type": "string"},
            "metadata": {"type": "boolean"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": {"type": "string"},
            "group": {"type": "string"},
        },
    },
    "ServiceDefinition": {
        "type": "object", "required": ["service_code", "attributes"],
        "properties": {
            "service_code": {"type": "string"},
            "attributes": {"type": "array", "items": {
                "type": "object",
                "required": ["variable", "code", "datatype", "required", "order",
                             "description"],
                "properties": {
                    "variable": {"type": "boolean"},
                    "code": {"type": "string"},
                    "datatype": {"type": "string", "enum": [
                        "string", "number", "datetime", "text", "singlevaluelist",
                        "multivaluelist"]},
                    "required": {"type": "boolean"},
                    "datatype_description": _NULLABLE_STRING,
                    "order": {"type": "integer"},
                    "description": {"type": "string"},
                    "values": {"type": "array", "items": {
                        "type": "object", "required": ["key", "name"],
                        "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
                    }},
                },
            }},
        },
    },
    "ServiceRequest": {
        "type": "object", "required": ["service_request_id", "status"],
        "properties": {
            "service_request_id": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": _NULLABLE_STRING,
            "service_name": {"type": "string"},
            "service_code": {"type": "string"},
            "description": {"type": "string"},
            "agency_responsible": _NULLABLE_STRING,
            "service_notice": _NULLABLE_STRING,
            "requested_datetime": {"type": "string", "format": "date-time"},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "expected_datetime": {"type": "string", "format": "date-time", "nullable": True},
            "address": {"type": "string"},
            "address_id": _NULLABLE_STRING,
            "zipcode": _NULLABLE_STRING,
            "lat": _NULLABLE_NUMBER,
            "long": _NULLABLE_NUMBER,
            "media_url": _NULLABLE_STRING,
        },
    },
    "CreatedRequest": {
        "type": "object", "required": ["service_request_id", "token", "service_notice"],
        "properties": {
            "service_request_id": {"type": "string"},
            "token": {"type": "string"},
            "service_notice": {"type": "string"},
            "account_id": _NULLABLE_STRING,
        },
    },
    "Token": {
        "type": "object", "required": ["service_request_id", "token"],
        "properties": {"service_request_id": {"type": "string"}, "token": {"type": "string"}},
    },
}

_POST_BODY = {
    "type": "object",
    "required": ["api_key", "service_code"],
    "properties": {
        "api_key": {"type": "string"},
        "jurisdiction_id": {"type": "string"},
        "service_code": {"type": "string"},
        "lat": {"type": "string", "pattern": "^-?[0-9]{1,2}(\\.[0-9]{1,8})?$"},
        "long": {"type": "string", "pattern": "^-?[0-9]{1,3}(\\.[0-9]{1,8})?$"},
        "address_string": {"type": "string"},
        "attribute[village]": {"type": "string"},
        "attribute[unit_name]": {"type": "string"},
        "attribute[venue_type]": {"type": "string"},
        "attribute[observed_at]": {"type": "string"},
        "attribute[wants_feedback]": {"type": "string", "enum": ["yes", "no"]},
        "description": {"type": "string", "maxLength": 4000},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "phone": {"type": "string"},
        "email": {"type": "string"},
        "media_url": {"type": "string"},
    },
}


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Open311 GeoReport v2",
            "version": "2",
            "description": "Fire-hazard tip-offs from partner channels, and the disclosed "
                           "hazards as open data. See docs/open311.md.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/discovery.{format}": {"get": {
                "operationId": "discovery",
                "parameters": [_FORMAT],
                "responses": {**_ok("Discovery", _ref("Discovery")), **_errors(404)},
            }},
            "/services.{format}": {"get": {
                "operationId": "services",
                "parameters": [_FORMAT, _JURISDICTION],
                "responses": {**_ok("Service list", _array_of("Service")), **_errors(404)},
            }},
            "/services/{service_code}.{format}": {"get": {
                "operationId": "serviceDefinition",
                "parameters": [
                    {"name": "service_code", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    _FORMAT, _JURISDICTION,
                ],
                "responses": {**_ok("Service definition", _ref("ServiceDefinition")),
                              **_errors(404)},
            }},
            "/requests.{format}": {
                "get": {
                    "operationId": "listRequests",
                    "parameters": [
                        _FORMAT, _JURISDICTION,
                        _query("service_request_id", "Comma-separated ids; overrides the rest.",
                               pattern=f"^{_ID}(,{_ID})*$"),
                        _query("service_code", "Comma-separated service codes."),
                        _query("start_date", "ISO 8601; default 90 days before end_date.",
                               format="date-time"),
                        _query("end_date", "ISO 8601; default now.", format="date-time"),
                        _query("status", "open, closed, or both comma-separated.",
                               enum=["open", "closed", "open,closed"]),
                        _query("api_key", "Optional: also answers for this partner's own "
                                          "undisclosed tips (T-ids)."),
                        {"name": "page_size", "in": "query", "required": False,
                         "description": "Extension: requests per page, 1 to "
                                        f"{MAX_PAGE_SIZE}; default {DEFAULT_PAGE_SIZE}.",
                         "schema": {"type": "integer", "minimum": 1,
                                    "maximum": MAX_PAGE_SIZE}},
                        _query("after", "Extension: the opaque cursor from the previous "
                                        "page's Link header; never built by hand.",
                               pattern="^[A-Za-z0-9_-]{1,64}$"),
                    ],
                    "responses": {
                        "200": {"description": "One page of disclosed cases, newest "
                                               "requested_datetime first",
                                "headers": {**_CACHED, **_NEXT_LINK},
                                "content": _content(_array_of("ServiceRequest"))},
                        "304": {"description": "Not modified since the ETag sent as "
                                               "If-None-Match", "headers": _CACHED},
                        **_errors(400, 403, 404, 429),
                    },
                },
                "post": {
                    "operationId": "createRequest",
                    "parameters": [_FORMAT],
                    "requestBody": {"required": True, "content": {
                        "application/x-www-form-urlencoded": {"schema": _POST_BODY},
                        "multipart/form-data": {"schema": _POST_BODY},
                        # The same names as keys of one object; ``attribute`` may also be
                        # an object of its own ({"attribute": {"village": "V01"}}).
                        "application/json": {"schema": _POST_BODY},
                    }},
                    "responses": {**_ok("The new tip", _array_of("CreatedRequest")),
                                  **_errors(400, 403, 404, 429)},
                },
            },
            "/requests/{service_request_id}.{format}": {"get": {
                "operationId": "showRequest",
                "parameters": [
                    {"name": "service_request_id", "in": "path", "required": True,
                     "description": "A disclosed case (12) or a partner's own tip (T34).",
                     "schema": {"type": "string", "pattern": f"^{_ID}$"}},
                    _FORMAT, _JURISDICTION,
                    _query("api_key", "The submitting partner's key, for T-ids."),
                ],
                "responses": {**_ok("One request", _array_of("ServiceRequest")),
                              **_errors(403, 404, 429)},
            }},
            "/tokens/{token}.{format}": {"get": {
                "operationId": "showToken",
                "parameters": [
                    {"name": "token", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    _FORMAT, _JURISDICTION,
                ],
                "responses": {**_ok("The request id for the token", _array_of("Token")),
                              **_errors(404, 429)},
            }},
        },
        "components": {"schemas": _SCHEMAS},
    }
