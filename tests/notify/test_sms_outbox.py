"""SMS through the outbox (issue 21): who gets which template with which parameters, retries
of a throttled answer, the daily cap, and the phone number never in clear."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.casework import notifications, routing, sms, workflow
from portal.domain.enums import RejectReason
from portal.domain.models import Case, Notification, RatingToken, Tip, User
from portal.domain.reporting import rating
from portal.domain.reporting.identity import IdentityCipher
from portal.domain.vetting import moderation
from tests import factories
from tests.domain.linkage_helpers import in_days, lead, moderator, officer
from tests.notify import stub as answers
from tests.notify.stub import Stub, provider_stub

pytestmark = pytest.mark.usefixtures("app")

PHONE = "13912345678"
TEMPLATES = {kind: f"SMS_{n}" for n, kind in enumerate(sms.KINDS, start=100)}


@pytest.fixture
def cipher(app: Flask) -> IdentityCipher:
    return IdentityCipher(app.config["FIELD_KEYS"])


@pytest.fixture
def api() -> Stub:
    with provider_stub() as stub:
        yield stub


@pytest.fixture
def channel(app: Flask, cipher: IdentityCipher, api: Stub) -> sms.SmsChannel:
    provider = sms.AliyunProvider("test-ak", "test-secret", "平顺消防", endpoint=api.endpoint,
                                  protocol="http")
    return sms.SmsChannel(provider, cipher, app.config["RECEIPT_KEY"], TEMPLATES, daily_cap=3)


def later(minutes: float = 1) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).replace(microsecond=0)


def details(session: Session) -> moderation.UnitDetails:
    return moderation.UnitDetails(
        name="张三小卖部", village_id=factories.village(session).id,
        category_id=factories.category(session).id,
        venue_type_id=factories.venue_type(session).id, internal_summary="门口堆物")


def reporter_tip(session: Session, cipher: IdentityCipher, *, phone: str | None = PHONE,
                 wants_feedback: bool = True) -> Tip:
    return factories.make_tip(
        session, reporter_phone_enc=cipher.encrypt(phone) if phone else None,
        reporter_name_enc=cipher.encrypt("李四") if phone else None,
        wants_feedback=wants_feedback)


def close(session: Session, case: Case) -> None:
    fire = officer(session, "FIRE")
    routing.route_case(session, case, lead=factories.department(session, "FIRE"), assists=[],
                       actor=moderator(session))
    workflow.accept_assignment(session, lead(case), actor=fire)
    workflow.record_check(session, case, actor=fire, confirmed=True, findings="属实")
    workflow.set_rectification(session, case, actor=fire, deadline=in_days(5))
    workflow.report_rectified(session, case, actor=fire, report="已清理")
    workflow.approve_closure(session, case, actor=moderator(session), follow_up_by=in_days(30))


def sms_rows(session: Session) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.channel == "sms")
                                .order_by(Notification.id)))


def sent_params(api: Stub) -> list[tuple[str, dict[str, str]]]:
    return [(seen.form["TemplateCode"], json.loads(seen.form.get("TemplateParam", "{}")))
            for seen in api.requests]


def assert_no_clear_phone(session: Session, phone: str, log_text: str) -> None:
    for row in session.scalars(select(Notification)):
        stored = [row.subject, row.body, row.last_error, row.provider_status,
                  row.provider_request_id, row.recipient_hash or "",
                  json.dumps(row.payload, ensure_ascii=False),
                  json.dumps(row.template_params, ensure_ascii=False),
                  (row.recipient_enc or b"").decode("latin-1")]
        assert not any(phone in value for value in stored), row.kind
    assert phone not in log_text


def test_a_reporter_who_asked_hears_of_acceptance_and_closure_and_nothing_leaks(
    db_session: Session, cipher: IdentityCipher, channel: sms.SmsChannel, api: Stub,
    caplog: pytest.LogCaptureFixture, app: Flask,
) -> None:
    caplog.set_level(logging.DEBUG)
    tip = reporter_tip(db_session, cipher)
    case = moderation.accept_tip(db_session, tip, details(db_session),
                                 actor=moderator(db_session))
    close(db_session, case)
    assert [r.kind for r in sms_rows(db_session)] == [
        "sms_tip_accepted", "sms_case_closed", "sms_rating_open"]
    assert all(r.tip_id == tip.id and r.recipient_enc is None for r in sms_rows(db_session))

    api.answers += [answers.ALIYUN_OK] * 3
    report = notifications.send_pending(db_session, notifications.LoggingSender(),
                                        sms_channel=channel, now=later())
    assert report.sent >= 3 and report.failed == 0
    assert [seen.form["PhoneNumbers"] for seen in api.requests] == [PHONE] * 3
    (accepted, p1), (closed, p2), (rate, p3) = sent_params(api)
    assert (accepted, p1) == (TEMPLATES["sms_tip_accepted"], {})
    assert (closed, p2) == (TEMPLATES["sms_case_closed"], {"outcome": "隐患已整改"})
    assert rate == TEMPLATES["sms_rating_open"] and set(p3) == {"token"}
    # The link's token is a working one-time rating token for this tip.
    found = rating.token_for(db_session, p3["token"], key=app.config["RECEIPT_KEY"])
    assert found is not None and found.tip_id == tip.id
    for row in sms_rows(db_session):
        assert row.sent_at is not None and row.provider == "aliyun"
        assert (row.provider_status, row.provider_request_id) == ("OK", "ALI-REQ-1")
        assert row.recipient_hash == sms.recipient_hash(app.config["RECEIPT_KEY"], PHONE)
    # Nothing the reporter wrote, nor the receipt, is a parameter.
    assert tip.description not in json.dumps([p1, p2, p3], ensure_ascii=False)
    assert_no_clear_phone(db_session, PHONE, caplog.text)


def test_a_refusal_carries_the_reasons_short_label(db_session: Session, cipher: IdentityCipher,
                                                   channel: sms.SmsChannel, api: Stub) -> None:
    tip = reporter_tip(db_session, cipher)
    moderation.reject_tip(db_session, tip, RejectReason.OUT_OF_SCOPE, "此事由住建部门受理。",
                          actor=moderator(db_session))
    api.answers.append(answers.ALIYUN_OK)
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=later())
    assert sent_params(api) == [(TEMPLATES["sms_tip_refused"], {"reason": "不属受理范围"})]
    assert "住建" not in json.dumps(sms_rows(db_session)[0].template_params,
                                  ensure_ascii=False)


def test_a_throttled_answer_is_retried_later_and_a_refusal_is_recorded_for_good(
    db_session: Session, cipher: IdentityCipher, channel: sms.SmsChannel, api: Stub,
) -> None:
    tip = reporter_tip(db_session, cipher)
    moderation.accept_tip(db_session, tip, details(db_session), actor=moderator(db_session))
    [row] = sms_rows(db_session)
    api.answers.append(answers.ALIYUN_THROTTLED)
    now = later()
    report = notifications.send_pending(db_session, notifications.LoggingSender(),
                                        sms_channel=channel, now=now)
    assert report.failed == 1 and row.sent_at is None and row.tries == 1
    assert row.provider_status == "isv.BUSINESS_LIMIT_CONTROL"
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) > now
    # Not before the back-off, then again.
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now)
    assert len(api.requests) == 1
    api.answers.append(answers.ALIYUN_OK)
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now + dt.timedelta(minutes=5))
    assert len(api.requests) == 2 and row.sent_at is not None and row.provider_status == "OK"

    other = reporter_tip(db_session, cipher, phone="13700001111")
    moderation.accept_tip(db_session, other, details(db_session), actor=moderator(db_session))
    failing = sms_rows(db_session)[-1]
    api.answers.append(answers.ALIYUN_FAILED)
    report = notifications.send_pending(db_session, notifications.LoggingSender(),
                                        sms_channel=channel, max_tries=5,
                                        now=now + dt.timedelta(minutes=6))
    assert report.gave_up == 1 and failing.sent_at is None and failing.tries == 5
    assert failing.provider_status == "isv.SMS_TEMPLATE_ILLEGAL"
    assert failing.provider_request_id == "ALI-REQ-3"
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now + dt.timedelta(days=2))
    assert len(api.requests) == 3


def test_anonymous_and_uninterested_reporters_get_nothing(
    db_session: Session, cipher: IdentityCipher,
) -> None:
    anonymous = reporter_tip(db_session, cipher, phone=None)
    quiet = reporter_tip(db_session, cipher, wants_feedback=False)
    for tip in (anonymous, quiet):
        case = moderation.accept_tip(db_session, tip, details(db_session),
                                     actor=moderator(db_session))
        close(db_session, case)
    assert sms_rows(db_session) == []


def test_a_withdrawn_identity_closes_the_queued_sms_unsent(
    db_session: Session, cipher: IdentityCipher, channel: sms.SmsChannel, api: Stub,
) -> None:
    tip = reporter_tip(db_session, cipher)
    case = moderation.accept_tip(db_session, tip, details(db_session),
                                 actor=moderator(db_session))
    tip.identity_withdrawn_at = dt.datetime.now(dt.UTC)
    [row] = sms_rows(db_session)
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=later())
    assert api.requests == [] and row.sent_at is not None
    assert row.last_error == sms.NOT_SENDABLE_WITHDRAWN and row.provider == ""
    # And once withdrawn, closure queues nothing more.
    close(db_session, case)
    assert sms_rows(db_session) == [row]


def test_a_landline_is_not_sent_an_sms(db_session: Session, cipher: IdentityCipher,
                                       channel: sms.SmsChannel, api: Stub) -> None:
    tip = reporter_tip(db_session, cipher, phone="0355-6221234")
    moderation.accept_tip(db_session, tip, details(db_session), actor=moderator(db_session))
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=later())
    [row] = sms_rows(db_session)
    assert api.requests == [] and row.last_error == sms.NOT_SENDABLE_NO_PHONE


def test_a_number_gets_at_most_the_daily_cap(db_session: Session, cipher: IdentityCipher,
                                             channel: sms.SmsChannel, api: Stub) -> None:
    for _ in range(4):
        moderation.accept_tip(db_session, reporter_tip(db_session, cipher), details(db_session),
                              actor=moderator(db_session))
    api.answers += [answers.ALIYUN_OK] * 4
    now = later()
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now)
    assert len(api.requests) == 3  # daily_cap=3
    waiting = sms_rows(db_session)[-1]
    assert waiting.sent_at is None and waiting.tries == 0
    assert waiting.next_attempt_at.replace(tzinfo=dt.UTC) >= now + dt.timedelta(hours=23)
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now + dt.timedelta(days=1, minutes=1))
    assert len(api.requests) == 4 and waiting.sent_at is not None


def tencent_channel(app: Flask, cipher: IdentityCipher, api: Stub,
                    **settings: int) -> sms.SmsChannel:
    tencent = sms.TencentProvider("id", "key", "平顺消防", "1400000001", endpoint=api.endpoint,
                                  protocol="http")
    return sms.SmsChannel(tencent, cipher, app.config["RECEIPT_KEY"], TEMPLATES, **settings)


def tencent_params(api: Stub) -> list[tuple[str, list[str]]]:
    return [(seen.json()["TemplateId"], seen.json().get("TemplateParamSet", []))
            for seen in api.requests]


def test_the_rating_link_fits_tencents_parameter_limit(
    db_session: Session, cipher: IdentityCipher, app: Flask, api: Stub,
) -> None:
    channel = tencent_channel(app, cipher, api)
    tip = reporter_tip(db_session, cipher)
    close(db_session, moderation.accept_tip(db_session, tip, details(db_session),
                                            actor=moderator(db_session)))
    api.answers += [answers.TENCENT_OK] * 3
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=later())
    sent = tencent_params(api)
    assert [template for template, _ in sent] == [
        TEMPLATES["sms_tip_accepted"], TEMPLATES["sms_case_closed"], TEMPLATES["sms_rating_open"]]
    (token,) = sent[-1][1]
    # At most 12 characters: what a Tencent account verified as a person accepts (one verified
    # as an organisation, as a government's is, has no per-parameter limit).
    assert len(token) <= 12
    found = rating.token_for(db_session, token, key=app.config["RECEIPT_KEY"])
    assert found is not None and found.tip_id == tip.id


def test_a_parameter_longer_than_the_account_allows_is_refused_not_cut(
    db_session: Session, cipher: IdentityCipher, app: Flask, api: Stub,
) -> None:
    channel = tencent_channel(app, cipher, api, max_param_chars=6)
    tip = reporter_tip(db_session, cipher)
    case = moderation.accept_tip(db_session, tip, details(db_session),
                                 actor=moderator(db_session))
    close(db_session, case)
    api.answers += [answers.TENCENT_OK] * 2
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=later())
    # Acceptance and the outcome label fit 6 characters; the rating link's token does not.
    assert [template for template, _ in tencent_params(api)] == [
        TEMPLATES["sms_tip_accepted"], TEMPLATES["sms_case_closed"]]
    rate = sms_rows(db_session)[-1]
    assert rate.kind == "sms_rating_open" and rate.sent_at is None and "token" in rate.last_error


def test_a_retried_rating_sms_carries_the_same_link(
    db_session: Session, cipher: IdentityCipher, channel: sms.SmsChannel, api: Stub, app: Flask,
) -> None:
    tip = reporter_tip(db_session, cipher)
    close(db_session, moderation.accept_tip(db_session, tip, details(db_session),
                                            actor=moderator(db_session)))
    api.answers += [answers.ALIYUN_OK, answers.ALIYUN_OK, answers.ALIYUN_THROTTLED]
    now = later()
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now)
    rate = sms_rows(db_session)[-1]
    assert rate.kind == "sms_rating_open" and rate.sent_at is None
    api.answers.append(answers.ALIYUN_OK)
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=now + dt.timedelta(hours=2))
    assert rate.sent_at is not None
    first, second = (params["token"] for template, params in sent_params(api)
                     if template == TEMPLATES["sms_rating_open"])
    # The throttled try may have reached the phone after all: both messages carry one link,
    # and the tip has one rating link, not one per try.
    assert first == second
    assert rating.token_for(db_session, first, key=app.config["RECEIPT_KEY"]) is not None
    assert db_session.scalar(select(func.count()).select_from(RatingToken)
                             .where(RatingToken.tip_id == tip.id)) == 1


def staff_with_mobile(session: Session, code: str, username: str, mobile: str,
                      notify_sms: bool = True) -> User:
    user = officer(session, code, username)
    user.mobile, user.notify_sms = mobile, notify_sms
    session.flush()
    return user


def test_officers_who_chose_sms_get_assignment_and_deadline_reminders(
    db_session: Session, cipher: IdentityCipher, channel: sms.SmsChannel, api: Stub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wants = staff_with_mobile(db_session, "FIRE", "fire-sms", "13600001234")
    staff_with_mobile(db_session, "FIRE", "fire-quiet", "13600005678", notify_sms=False)
    staff_with_mobile(db_session, "POLICE", "police-sms", "13600009999")
    case = factories.make_case(db_session)
    routing.route_case(db_session, case, lead=factories.department(db_session, "FIRE"),
                       assists=[], actor=moderator(db_session))
    fire = factories.department(db_session, "FIRE")
    notifications.notify(db_session, "check_overdue", "【已超期】", department=fire,
                         payload={"case_id": case.id})
    notifications.notify(db_session, "assignment_returned", "退回", department=fire,
                         payload={"case_id": case.id})
    rows = sms_rows(db_session)
    assert [(r.kind, r.recipient_user_id) for r in rows] == [
        ("sms_assignment_new", wants.id), ("sms_overdue", wants.id)]
    api.answers += [answers.ALIYUN_OK] * 2
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=channel,
                               now=later())
    assert sent_params(api) == [(TEMPLATES["sms_assignment_new"], {"case": str(case.id)}),
                                (TEMPLATES["sms_overdue"], {"case": str(case.id)})]
    assert all(cipher.decrypt(r.recipient_enc) == "13600001234" for r in rows)
    assert_no_clear_phone(db_session, "13600001234", caplog.text)


def test_without_a_channel_sms_rows_wait_and_with_no_provider_they_are_only_logged(
    db_session: Session, cipher: IdentityCipher, app: Flask, caplog: pytest.LogCaptureFixture,
) -> None:
    moderation.accept_tip(db_session, reporter_tip(db_session, cipher), details(db_session),
                          actor=moderator(db_session))
    [row] = sms_rows(db_session)
    notifications.send_pending(db_session, notifications.LoggingSender(), now=later())
    assert row.sent_at is None and row.tries == 0
    caplog.set_level(logging.DEBUG)
    logged = sms.channel_from_settings({**app.config, "SMS_TEMPLATE_TIP_ACCEPTED": "SMS_1"},
                                       cipher)
    assert "secret" not in repr(logged).lower()
    notifications.send_pending(db_session, notifications.LoggingSender(), sms_channel=logged,
                               now=later())
    assert row.sent_at is not None and row.provider == "none"
    assert PHONE not in caplog.text and "SMS_1" in caplog.text


@pytest.mark.parametrize(("kind", "sms_kind"), [
    ("assignment_new", "sms_assignment_new"), ("check_due_soon", "sms_due_soon"),
    ("rectify_overdue", "sms_overdue"), ("report_due_soon", "sms_due_soon"),
    ("sent_back", None), ("follow_up_due", None), ("reporter_callback", None)])
def test_only_assignments_and_deadlines_go_to_officers_by_sms(kind: str,
                                                              sms_kind: str | None) -> None:
    assert sms.officer_kind(kind) == sms_kind


def test_a_report_joined_to_an_open_case_is_accepted_too(db_session: Session,
                                                         cipher: IdentityCipher) -> None:
    case = moderation.accept_tip(db_session, reporter_tip(db_session, cipher, phone=None),
                                 details(db_session), actor=moderator(db_session))
    second = reporter_tip(db_session, cipher)
    moderation.merge_tip(db_session, second, case, actor=moderator(db_session))
    assert [(r.kind, r.tip_id) for r in sms_rows(db_session)] == [("sms_tip_accepted",
                                                                    second.id)]


def test_notifications_send_delivers_sms_through_the_configured_channel(
    runner, db_session: Session, cipher: IdentityCipher, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    moderation.accept_tip(db_session, reporter_tip(db_session, cipher), details(db_session),
                          actor=moderator(db_session))
    db_session.flush()
    result = runner.invoke(args=["notifications", "send"])
    assert result.exit_code == 0, result.output
    [row] = sms_rows(db_session)
    db_session.refresh(row)
    # No template code is configured here: closed unsent, saying why.
    assert row.sent_at is not None and row.last_error == sms.NOT_SENDABLE_NO_TEMPLATE
    assert PHONE not in caplog.text and PHONE not in result.output
