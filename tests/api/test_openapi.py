"""The OpenAPI document is the contract: a property-based run (schemathesis) sends generated
requests to every operation and fails on a server error or on any response the document does
not describe."""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from portal.domain.access import api_keys
from tests.api.conftest import API

XML_ROOTS = {"discovery", "services", "service_definition", "service_requests", "errors"}


def xml_is_well_formed(ctx, response, case) -> None:
    """The document cannot describe XML bodies; this check does: they parse, and the root
    element is one the specification names."""
    content_type = response.headers.get("content-type") or response.headers.get("Content-Type")
    if isinstance(content_type, list):
        content_type = content_type[0]
    if not (content_type or "").startswith("text/xml"):
        return None
    root = ET.fromstring(response.content)  # noqa: S314 (our own response)
    assert root.tag in XML_ROOTS, root.tag
    return None


# Per operation and mode; OPEN311_EXAMPLES=300 OPEN311_RANDOM=1 for a longer, fresh hunt.
EXAMPLES = int(os.environ.get("OPEN311_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, xml_is_well_formed]


OPERATIONS = [
    ("GET", "/discovery.{format}"),
    ("GET", "/services.{format}"),
    ("GET", "/services/{service_code}.{format}"),
    ("GET", "/requests.{format}"),
    ("POST", "/requests.{format}"),
    ("GET", "/requests/{service_request_id}.{format}"),
    ("GET", "/tokens/{token}.{format}"),
]


def _heads(values: dict) -> bool:
    """A coin toss that hypothesis can replay: the same example gets the same answer."""
    return hashlib.sha256(repr(values).encode()).digest()[0] % 2 == 1


@pytest.fixture
def valid_key(db_session) -> str:
    return api_keys.issue(db_session, "性质测试渠道").key


def _run(app, method: str, path: str, mode: GenerationMode, checks, valid_key: str) -> None:
    operation = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize=os.environ.get("OPEN311_RANDOM") is None,
              suppress_health_check=list(HealthCheck))
    def keeps_to_the_document(case) -> None:
        # Half the generated keys are replaced by a real one, so that posts reach the intake's
        # validation and reads the partner's view.
        if method == "POST" and isinstance(case.body, dict) and _heads(case.body):
            case.body["api_key"] = valid_key
        elif case.query and "api_key" in case.query and _heads(case.query):
            case.query["api_key"] = valid_key
        case.call_and_validate(checks=checks)

    keeps_to_the_document()


# schemathesis's own pytest plugin does not run under pytest 9, so each operation's strategy
# is driven by hypothesis directly; the generation and the checks are schemathesis's.
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_keeps_to_the_document(app, disclosed_case, valid_key, method, path):
    _run(app, method, path, GenerationMode.POSITIVE, CHECKS, valid_key)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_invalid_input_is_refused_as_documented(app, disclosed_case, valid_key, method, path):
    """Requests that break the document get a documented 4xx, never a server error."""
    _run(app, method, path, GenerationMode.NEGATIVE,
         [not_a_server_error, status_code_conformance, content_type_conformance,
          xml_is_well_formed], valid_key)


def test_the_document_is_served_and_names_every_route(client, app) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "http://localhost/open311/v2"}]
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in (
                "api.not_found", "api.root", "api.openapi_document"):
            continue
        path = rule.rule.removeprefix(API).replace("<any(json, xml):fmt>", "{format}")
        for name in ("service_code", "request_id", "token"):
            path = path.replace(f"<{name}>", "{%s}" % (
                "service_request_id" if name == "request_id" else name))
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
