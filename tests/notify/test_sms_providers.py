"""Each SMS provider's sender against a local stand-in of its API: the request as the provider
documents it, and the three kinds of answer (sent, throttled, refused)."""

from __future__ import annotations

import json

import pytest

from portal.domain.casework.sms import AliyunProvider, TencentProvider, Verdict
from tests.notify import stub as answers
from tests.notify.stub import provider_stub

PHONE = "13800138000"


def aliyun(endpoint: str) -> AliyunProvider:
    return AliyunProvider("test-ak", "test-secret", "平顺消防", endpoint=endpoint,
                          protocol="http")


def tencent(endpoint: str) -> TencentProvider:
    return TencentProvider("test-id", "test-key", "平顺消防", "1400000001", endpoint=endpoint,
                           protocol="http")


def test_alibaba_sends_sms_with_sign_template_and_json_params_signed() -> None:
    with provider_stub() as api:
        api.answers.append(answers.ALIYUN_OK)
        answer = aliyun(api.endpoint).send(PHONE, "SMS_100", [("outcome", "隐患已整改")])
    assert (answer.verdict, answer.code, answer.request_id) == (Verdict.OK, "OK", "ALI-REQ-1")
    [seen] = api.requests
    assert seen.headers["x-acs-action"] == "SendSms"
    assert seen.headers["x-acs-version"] == "2017-05-25"
    assert seen.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-ak,")
    assert "Signature=" in seen.headers["authorization"]
    assert seen.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert seen.form["PhoneNumbers"] == PHONE
    assert seen.form["SignName"] == "平顺消防"
    assert seen.form["TemplateCode"] == "SMS_100"
    assert json.loads(seen.form["TemplateParam"]) == {"outcome": "隐患已整改"}
    # In the signed body, not the URL that HTTP libraries and proxies log.
    assert seen.query == {}


def test_alibaba_flow_control_is_throttling_and_a_bad_template_a_failure() -> None:
    with provider_stub() as api:
        api.answers += [answers.ALIYUN_THROTTLED, answers.ALIYUN_FAILED]
        throttled = aliyun(api.endpoint).send(PHONE, "SMS_100", [])
        failed = aliyun(api.endpoint).send(PHONE, "SMS_100", [])
    assert (throttled.verdict, throttled.code) == (Verdict.THROTTLED,
                                                   "isv.BUSINESS_LIMIT_CONTROL")
    assert (failed.verdict, failed.code, failed.request_id) == (
        Verdict.FAILED, "isv.SMS_TEMPLATE_ILLEGAL", "ALI-REQ-3")
    assert "TemplateParam" not in api.requests[0].form  # a template without parameters


def test_tencent_sends_sms_with_app_sign_template_and_params_signed() -> None:
    with provider_stub() as api:
        api.answers.append(answers.TENCENT_OK)
        answer = tencent(api.endpoint).send(PHONE, "2001", [("case", "42")])
    assert (answer.verdict, answer.code, answer.request_id) == (Verdict.OK, "Ok", "TC-SERIAL-1")
    [seen] = api.requests
    assert seen.headers["x-tc-action"] == "SendSms"
    assert seen.headers["x-tc-version"] == "2021-01-11"
    assert seen.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=test-id/")
    assert "Signature=" in seen.headers["authorization"]
    assert seen.json() == {"PhoneNumberSet": ["+86" + PHONE], "SmsSdkAppId": "1400000001",
                           "SignName": "平顺消防", "TemplateId": "2001",
                           "TemplateParamSet": ["42"]}


@pytest.mark.parametrize(("answer", "verdict", "code"), [
    (answers.TENCENT_DAILY_LIMIT, Verdict.THROTTLED, "LimitExceeded.PhoneNumberDailyLimit"),
    (answers.TENCENT_THROTTLED, Verdict.THROTTLED, "RequestLimitExceeded"),
    (answers.TENCENT_FAILED, Verdict.FAILED, "FailedOperation.TemplateIncorrectOrUnapproved"),
])
def test_tencent_limits_are_throttling_and_a_bad_template_a_failure(answer, verdict,
                                                                     code) -> None:
    with provider_stub() as api:
        api.answers.append(answer)
        got = tencent(api.endpoint).send(PHONE, "2001", [])
    assert (got.verdict, got.code) == (verdict, code)
    assert PHONE not in got.message


def test_a_provider_that_cannot_be_reached_raises_for_the_outbox_to_retry() -> None:
    with provider_stub() as api:
        endpoint = api.endpoint
    with pytest.raises(Exception):  # noqa: B017 - the SDKs' own transport errors
        aliyun(endpoint).send(PHONE, "SMS_100", [])
    with pytest.raises(Exception):  # noqa: B017
        tencent(endpoint).send(PHONE, "2001", [])


def test_the_senders_repr_shows_no_keys() -> None:
    for provider in (aliyun("127.0.0.1:1"), tencent("127.0.0.1:1")):
        assert "test-secret" not in repr(provider) and "test-key" not in repr(provider)
