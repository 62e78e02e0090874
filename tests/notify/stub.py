"""A local stand-in for the SMS providers' APIs: records each request and answers as scripted."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    method: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Stub:
    endpoint: str = ""
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)


@contextmanager
def provider_stub() -> Iterator[Stub]:
    stub = Stub()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            stub.requests.append(Seen("POST", {k.lower(): v for k, v in self.headers.items()},
                                      query, body))
            status, payload = stub.answers.pop(0)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.endpoint = f"127.0.0.1:{server.server_port}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


# The providers' answers, as their documentation shows them.
ALIYUN_OK = (200, {"Code": "OK", "Message": "OK", "RequestId": "ALI-REQ-1", "BizId": "9001"})
ALIYUN_THROTTLED = (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL",
                          "Message": "触发分钟级流控Permits:1", "RequestId": "ALI-REQ-2"})
ALIYUN_FAILED = (400, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法(不存在或被拉黑)",
                       "RequestId": "ALI-REQ-3"})


def tencent_status(code: str, request_id: str) -> tuple[int, dict[str, Any]]:
    return (200, {"Response": {"SendStatusSet": [
        {"SerialNo": "TC-SERIAL-1" if code == "Ok" else "", "PhoneNumber": "+8613800138000",
         "Fee": 1, "SessionContext": "", "Code": code, "Message": "send success"
         if code == "Ok" else "the number's daily limit", "IsoCode": "CN"}],
        "RequestId": request_id}})


TENCENT_OK = tencent_status("Ok", "TC-REQ-1")
TENCENT_DAILY_LIMIT = tencent_status("LimitExceeded.PhoneNumberDailyLimit", "TC-REQ-2")
TENCENT_THROTTLED = (200, {"Response": {"Error": {"Code": "RequestLimitExceeded",
                                                  "Message": "请求频率超过限制"},
                                        "RequestId": "TC-REQ-3"}})
TENCENT_FAILED = (200, {"Response": {
    "Error": {"Code": "FailedOperation.TemplateIncorrectOrUnapproved",
              "Message": "模板未审批或内容不匹配"},
    "RequestId": "TC-REQ-4"}})
