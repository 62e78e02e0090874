"""SMS through the notification outbox (issue 21): what each message kind carries, who gets it,
and the providers (Alibaba Cloud SMS, Tencent Cloud SMS) that deliver it.

Both providers send only pre-registered templates; the portal supplies a template code and the
template's parameters, never free text. ``KINDS`` is the one table of what each kind carries.
A reporter's number is read from the tip, and decrypted, only when the message is sent; a staff
member's from the account; a register unit's (a risk warning) is kept encrypted on the row.
None is logged, and the outbox keeps it encrypted at most.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.enums import CaseOutcome, RejectReason, Role
from portal.domain.models import Case, Department, Notification, Tip, User
from portal.domain.reporting.identity import IdentityCipher, is_mobile, normalize_phone

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SmsKind:
    setting: str  # the template code's setting, without PORTAL_
    params: tuple[str, ...]  # the template's parameters, in the template's order


# The one definition of every SMS: its template's setting and parameters. Values are short
# labels or numbers (at most 6 characters, the strictest rule a provider has had), never the
# reporter's text, never the receipt code. ``token`` is the rating link's one-time token
# (12 characters), issued at send time; the site's address is constant text of the template,
# since neither provider allows a link in a parameter.
KINDS: dict[str, SmsKind] = {
    "sms_tip_accepted": SmsKind("SMS_TEMPLATE_TIP_ACCEPTED", ()),
    "sms_tip_refused": SmsKind("SMS_TEMPLATE_TIP_REFUSED", ("reason",)),
    "sms_case_closed": SmsKind("SMS_TEMPLATE_CASE_CLOSED", ("outcome",)),
    "sms_rating_open": SmsKind("SMS_TEMPLATE_RATING_OPEN", ("token",)),
    "sms_assignment_new": SmsKind("SMS_TEMPLATE_ASSIGNMENT_NEW", ("case",)),
    "sms_due_soon": SmsKind("SMS_TEMPLATE_DUE_SOON", ("case",)),
    "sms_overdue": SmsKind("SMS_TEMPLATE_OVERDUE", ("case",)),
    # A risk warning to a register unit's responsible person (issue 22): the warning's kind
    # and period as labels ("节假日", "12.30-1.3"), never its text.
    "sms_risk_warning": SmsKind("SMS_TEMPLATE_RISK_WARNING", ("kind", "period")),
}

# Short labels (at most 6 characters) for the template parameters.
REASON_LABELS = {
    RejectReason.SPAM: "无效信息",
    RejectReason.DUPLICATE: "重复举报",
    RejectReason.OUT_OF_SCOPE: "不属受理范围",
    RejectReason.INSUFFICIENT: "信息不足",
}
OUTCOME_LABELS = {
    CaseOutcome.RECTIFIED: "隐患已整改",
    CaseOutcome.UNFOUNDED: "核查不属实",
}
# The longest parameter each provider accepts (characters): Alibaba's 35; Tencent's 12 for an
# account verified as a person (one verified as an organisation, as a government's is, has no
# limit; PORTAL_SMS_PARAM_MAX_CHARS sets the account's own rule).
PARAM_MAX_CHARS = {"none": 35, "aliyun": 35, "tencent": 12}

NOT_SENDABLE_WITHDRAWN = "举报人已撤回身份信息，短信不再发送"
NOT_SENDABLE_NO_PHONE = "无可接收短信的手机号，短信未发送"
NOT_SENDABLE_NO_TEMPLATE = "未配置该类短信的模板编号，短信未发送"
NOT_SENDABLE_OPTED_OUT = "该账号未开启短信提醒或已停用，短信未发送"


# ---------------------------------------------------------------- writing to the outbox


def _queue(session: Session, kind: str, subject: str, params: dict[str, str], *,
           tip: Tip | None = None, user: User | None = None,
           recipient_enc: bytes | None = None,
           dedupe_key: str | None = None) -> Notification | None:
    spec = KINDS[kind]
    if set(params) != set(spec.params) - {"token"}:
        raise ValueError(f"{kind} takes {spec.params}, not {sorted(params)}")
    if dedupe_key is not None and session.scalar(
            select(Notification.id).where(Notification.dedupe_key == dedupe_key)) is not None:
        return None
    row = Notification(channel="sms", kind=kind, subject=subject[:200], body="",
                       template_params=params, tip_id=tip.id if tip else None,
                       recipient_user_id=user.id if user else None,
                       recipient_enc=recipient_enc, dedupe_key=dedupe_key)
    session.add(row)
    session.flush()
    return row


def reachable(tip: Tip) -> bool:
    """The reporter left a phone, asked to hear the outcome and has not withdrawn."""
    return bool(tip.wants_feedback and tip.reporter_phone_enc
                and tip.identity_withdrawn_at is None)


def tip_accepted(session: Session, tip: Tip) -> Notification | None:
    if not reachable(tip):
        return None
    return _queue(session, "sms_tip_accepted", f"短信：举报 #{tip.id} 已受理", {}, tip=tip,
                  dedupe_key=f"sms_tip_accepted:{tip.id}")


def tip_refused(session: Session, tip: Tip) -> Notification | None:
    if not reachable(tip) or tip.reject_reason is None:
        return None
    return _queue(session, "sms_tip_refused", f"短信：举报 #{tip.id} 不予受理",
                  {"reason": REASON_LABELS.get(tip.reject_reason, "其他原因")}, tip=tip,
                  dedupe_key=f"sms_tip_refused:{tip.id}")


def case_closed(session: Session, case: Case, tip: Tip) -> list[Notification]:
    """The outcome, then the invitation to rate it (the link's token is issued when sent)."""
    if not reachable(tip) or case.outcome is None:
        return []
    stamp = case.closed_at.isoformat() if case.closed_at else ""
    rows = [
        _queue(session, "sms_case_closed", f"短信：举报 #{tip.id} 已办结",
               {"outcome": OUTCOME_LABELS[case.outcome]}, tip=tip,
               dedupe_key=f"sms_case_closed:{tip.id}:{stamp}" if stamp else None),
        _queue(session, "sms_rating_open", f"短信：举报 #{tip.id} 请评价", {}, tip=tip,
               dedupe_key=f"sms_rating_open:{tip.id}:{stamp}" if stamp else None),
    ]
    return [row for row in rows if row is not None]


def unit_warned(session: Session, subject: str, params: dict[str, str], *,
                recipient_enc: bytes, dedupe_key: str) -> Notification | None:
    """A risk warning to a register unit's responsible person: the number, already
    encrypted by the caller, is kept on the row (a unit has no account to read it from)."""
    return _queue(session, "sms_risk_warning", subject, params, recipient_enc=recipient_enc,
                  dedupe_key=dedupe_key)


def officer_kind(kind: str) -> str | None:
    """The SMS kind an officer's reminder of ``kind`` is sent as, if any."""
    if kind == "assignment_new":
        return "sms_assignment_new"
    if kind.endswith("_due_soon"):
        return "sms_due_soon"
    if kind.endswith("_overdue"):
        return "sms_overdue"
    return None


def officers_reminded(session: Session, kind: str, subject: str, department: Department,
                      payload: Mapping[str, Any] | None) -> list[Notification]:
    """For a reminder to a department: an SMS to each of its active officers who chose SMS."""
    sms_kind = officer_kind(kind)
    case_id = (payload or {}).get("case_id")
    if sms_kind is None or case_id is None:
        return []
    officers = session.scalars(
        select(User).where(User.department_id == department.id, User.role == Role.OFFICER,
                           User.active.is_(True), User.notify_sms.is_(True), User.mobile != "")
        .order_by(User.id)).all()
    rows = []
    for officer in officers:
        row = _queue(session, sms_kind, subject, {"case": str(case_id)}, user=officer)
        if row is not None:
            rows.append(row)
    return rows


# ---------------------------------------------------------------- providers


class Verdict(Enum):
    OK = "ok"
    THROTTLED = "throttled"  # retried later
    FAILED = "failed"  # permanent: recorded, not retried


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    code: str
    request_id: str = ""
    message: str = ""


class SmsProvider(Protocol):
    """Sends one templated SMS. Transport failures raise (and are retried); the provider's
    own refusals come back as an ``Answer``."""

    name: str

    def send(self, phone: str, template: str, params: list[tuple[str, str]]) -> Answer: ...


_DIGITS = re.compile(r"\d{7,}")


def scrub(text: str) -> str:
    """Provider messages may echo the number: no run of 7 digits or more is kept."""
    return _DIGITS.sub("***", text)


def mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 11 else "****"


class LoggingProvider:
    """``PORTAL_SMS_PROVIDER=none``: logs the kind of message and its template, never the number."""

    name = "none"

    def send(self, phone: str, template: str, params: list[tuple[str, str]]) -> Answer:
        log.info("SMS (not sent, no provider) with template %s", template)
        return Answer(Verdict.OK, "LOGGED")


ALIYUN_THROTTLING = ("isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling")


class AliyunProvider:
    """Alibaba Cloud SMS (dysmsapi 2017-05-25, ``SendSms``) through the official SDK, which
    signs each request (ACS3-HMAC-SHA256)."""

    name = "aliyun"

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, *,
                 endpoint: str = "dysmsapi.aliyuncs.com", region: str = "cn-hangzhou",
                 protocol: str = "https", timeout: float = 10) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as openapi

        self.sign_name, self.timeout_ms = sign_name, int(timeout * 1000)
        self._client = Client(openapi.Config(
            access_key_id=access_key_id, access_key_secret=access_key_secret,
            endpoint=endpoint, region_id=region, protocol=protocol))

    def __repr__(self) -> str:
        return f"AliyunProvider(sign_name={self.sign_name!r})"

    def send(self, phone: str, template: str, params: list[tuple[str, str]]) -> Answer:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_openapi import utils_models as openapi
        from alibabacloud_tea_openapi.exceptions import ClientException
        from darabonba.core import DaraCore
        from darabonba.runtime import RuntimeOptions

        # SendSms as the SDK's own send_sms builds it, but with the parameters in the signed
        # form body rather than the query string: a URL (the number in it) is what HTTP
        # libraries and proxies log.
        form = {"PhoneNumbers": phone, "SignName": self.sign_name, "TemplateCode": template}
        if params:
            form["TemplateParam"] = json.dumps(dict(params), ensure_ascii=False)
        action = openapi.Params(action="SendSms", version="2017-05-25", protocol="HTTPS",
                                pathname="/", method="POST", auth_type="AK", style="RPC",
                                req_body_type="formData", body_type="json")
        runtime = RuntimeOptions(autoretry=False, connect_timeout=self.timeout_ms,
                                 read_timeout=self.timeout_ms)
        try:
            answer = self._client.call_api(action, openapi.OpenApiRequest(body=form), runtime)
            body = DaraCore.from_map(models.SendSmsResponse(), answer).body
        except ClientException as exc:  # a 4xx answer: the provider refused the request
            code = str(exc.code or "")
            verdict = (Verdict.THROTTLED if code.startswith(ALIYUN_THROTTLING)
                       else Verdict.FAILED)
            data = exc.data if isinstance(exc.data, dict) else {}
            return Answer(verdict, code, str(data.get("RequestId", "")),
                          scrub(str(exc.message or "")))
        code = str(body.code or "")
        if code == "OK":
            return Answer(Verdict.OK, code, str(body.request_id or ""))
        verdict = Verdict.THROTTLED if code.startswith(ALIYUN_THROTTLING) else Verdict.FAILED
        return Answer(verdict, code, str(body.request_id or ""), scrub(str(body.message or "")))


TENCENT_THROTTLING = ("RequestLimitExceeded", "LimitExceeded.PhoneNumber",
                      "LimitExceeded.DeliveryFrequencyLimit", "InternalError")


class TencentProvider:
    """Tencent Cloud SMS (API 2021-01-11, ``SendSms``) through the official SDK, which signs
    each request (TC3-HMAC-SHA256)."""

    name = "tencent"

    def __init__(self, secret_id: str, secret_key: str, sign_name: str, sdk_app_id: str, *,
                 endpoint: str = "sms.tencentcloudapi.com", region: str = "ap-guangzhou",
                 protocol: str = "https", timeout: float = 10) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        self.sign_name, self.sdk_app_id = sign_name, sdk_app_id
        profile = ClientProfile(httpProfile=HttpProfile(
            endpoint=endpoint, protocol=protocol, reqTimeout=int(timeout)))
        self._client = sms_client.SmsClient(credential.Credential(secret_id, secret_key),
                                            region, profile)

    def __repr__(self) -> str:
        return f"TencentProvider(sign_name={self.sign_name!r}, sdk_app_id={self.sdk_app_id!r})"

    def send(self, phone: str, template: str, params: list[tuple[str, str]]) -> Answer:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{phone}"]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = template
        request.TemplateParamSet = [value for _, value in params]
        try:
            response = self._client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "")
            if code.startswith("ClientNetworkError") or code.startswith("ServerNetworkError"):
                raise  # the transport: retried like any other
            verdict = (Verdict.THROTTLED if code.startswith(TENCENT_THROTTLING)
                       else Verdict.FAILED)
            return Answer(verdict, code, str(exc.get_request_id() or ""),
                          scrub(str(exc.get_message() or "")))
        status = (response.SendStatusSet or [None])[0]
        request_id = str(response.RequestId or "")
        if status is None:
            return Answer(Verdict.FAILED, "NoStatus", request_id)
        code = str(status.Code or "")
        if code == "Ok":
            return Answer(Verdict.OK, code, str(status.SerialNo or request_id))
        verdict = Verdict.THROTTLED if code.startswith(TENCENT_THROTTLING) else Verdict.FAILED
        return Answer(verdict, code, request_id, scrub(str(status.Message or "")))


# ---------------------------------------------------------------- delivery


_RECIPIENT_LABEL = b"sms-recipient\x00"


def recipient_hash(key: str, phone: str) -> str:
    """The keyed hash that counts a number's messages (not reversible without the key)."""
    return hmac.new(key.encode(), _RECIPIENT_LABEL + phone.encode(), hashlib.sha256).hexdigest()


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"  # throttled: tried again after the back-off
    FAILED = "failed"  # the provider refused for good
    CLOSED = "closed"  # nothing to send to (withdrawn, no mobile, no template)
    DEFERRED = "deferred"  # the number's daily cap is reached; not a try


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    note: str = ""
    retry_at: dt.datetime | None = None


@dataclass
class SmsChannel:
    """Everything sending an SMS row needs: the provider, the cipher of reporters' phones, the
    key of the recipient hash and the rating links, the template codes and the daily cap."""

    provider: SmsProvider
    cipher: IdentityCipher
    key: str
    templates: Mapping[str, str]
    daily_cap: int = 10
    max_param_chars: int = 0

    def __repr__(self) -> str:
        return f"SmsChannel(provider={self.provider.name!r}, daily_cap={self.daily_cap})"

    def _phone(self, session: Session, row: Notification) -> tuple[str, str]:
        """The number to send to, or an empty number and why there is none."""
        if row.tip_id is not None:
            tip = session.get(Tip, row.tip_id)
            if tip is None or tip.identity_withdrawn_at is not None:
                return "", NOT_SENDABLE_WITHDRAWN
            raw = self.cipher.decrypt(tip.reporter_phone_enc)
        elif row.recipient_user_id is None and row.recipient_enc:
            raw = self.cipher.decrypt(row.recipient_enc)  # a unit's contact (unit_warned)
        else:
            user = session.get(User, row.recipient_user_id) if row.recipient_user_id else None
            if user is None or not user.active or not user.notify_sms:
                return "", NOT_SENDABLE_OPTED_OUT
            raw = user.mobile
        phone = normalize_phone(raw) if raw else None
        if not phone or not is_mobile(phone):
            return "", NOT_SENDABLE_NO_PHONE
        return phone, ""

    def deliver(self, session: Session, row: Notification, now: dt.datetime) -> Delivery:
        spec = KINDS.get(row.kind)
        template = self.templates.get(row.kind, "") if spec else ""
        if spec is None or not template:
            return Delivery(Outcome.CLOSED, NOT_SENDABLE_NO_TEMPLATE)
        phone, why = self._phone(session, row)
        if not phone:
            return Delivery(Outcome.CLOSED, why)
        row.recipient_hash = recipient_hash(self.key, phone)
        if row.recipient_user_id is not None:
            row.recipient_enc = self.cipher.encrypt(phone)
        since = now - dt.timedelta(days=1)
        sent, first = session.execute(
            select(func.count(Notification.id), func.min(Notification.sent_at))
            .where(Notification.recipient_hash == row.recipient_hash,
                   Notification.sent_at >= since, Notification.provider_request_id != "")
        ).one()
        if self.daily_cap and sent >= self.daily_cap and first is not None:
            first = first.replace(tzinfo=dt.UTC) if first.tzinfo is None else first
            return Delivery(Outcome.DEFERRED, "该号码今日短信已达上限，明日再发",
                            first + dt.timedelta(days=1))
        values = dict(row.template_params or {})
        if "token" in spec.params:
            # Imported here: the rating module itself reaches the outbox.
            from portal.domain.reporting import rating

            tip = session.get(Tip, row.tip_id)
            assert tip is not None
            values["token"] = rating.issue_token(session, tip, key=self.key, now=now,
                                                   message_id=row.id)
        params = [(name, str(values[name])) for name in spec.params]
        limit = self.max_param_chars or PARAM_MAX_CHARS.get(self.provider.name, 35)
        too_long = [name for name, value in params if len(value) > limit]
        if too_long:
            return Delivery(Outcome.FAILED, f"模板参数 {', '.join(too_long)} 超过服务商允许的"
                                            f" {limit} 个字符")
        answer = self.provider.send(phone, template, params)
        row.provider = self.provider.name
        row.provider_status = answer.code[:100]
        row.provider_request_id = answer.request_id[:100]
        if answer.verdict is Verdict.OK:
            if not row.provider_request_id:
                row.provider_request_id = "-"
            return Delivery(Outcome.SENT)
        note = f"{answer.code}: {answer.message}"
        return Delivery(Outcome.RETRY if answer.verdict is Verdict.THROTTLED else Outcome.FAILED,
                        note)


def provider_from_settings(config: Mapping[str, Any]) -> SmsProvider:
    """The provider ``PORTAL_SMS_PROVIDER`` names (``none``: only logged)."""
    name = config.get("SMS_PROVIDER", "none")
    endpoint = config.get("SMS_ENDPOINT", "")
    region = config.get("SMS_REGION", "")
    key_id, secret = config.get("SMS_ACCESS_KEY_ID", ""), config.get("SMS_ACCESS_KEY_SECRET", "")
    sign_name = config.get("SMS_SIGN_NAME", "")
    if name == "aliyun":
        return AliyunProvider(key_id, secret, sign_name,
                              endpoint=endpoint or "dysmsapi.aliyuncs.com",
                              region=region or "cn-hangzhou")
    if name == "tencent":
        return TencentProvider(key_id, secret, sign_name, config.get("SMS_SDK_APP_ID", ""),
                               endpoint=endpoint or "sms.tencentcloudapi.com",
                               region=region or "ap-guangzhou")
    return LoggingProvider()


def channel_from_settings(config: Mapping[str, Any], cipher: IdentityCipher) -> SmsChannel:
    """The channel ``notifications send`` delivers SMS rows through."""
    return SmsChannel(
        provider_from_settings(config), cipher, config["RECEIPT_KEY"],
        {kind: str(config.get(spec.setting, "")) for kind, spec in KINDS.items()},
        daily_cap=int(config.get("SMS_DAILY_CAP", 10)),
        max_param_chars=int(config.get("SMS_PARAM_MAX_CHARS", 0)))
