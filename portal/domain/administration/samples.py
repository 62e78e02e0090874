"""Sample reports and cases for the demo jurisdiction (示例数据): a portal to look at on first run.

``seed_samples`` files a few dozen tips about made-up places in the demo county's villages,
most in 阳高乡 and some in each sample township, and takes each through the same steps staff
take (intake, moderation, routing, the department's workflow, listing, urging, disclosure),
so the desk, the queue, the ledger and the public pages all show every stage. Each township's
own sample staff act on its tips (a moderator and a supervisor per township; the county has
a supervisor, who lists for county supervision, and an administrator). Everything the
samples write says so: unit names, addresses and tip texts carry "（示例）", and the staff
accounts are named "（示例）" and left inactive, with passwords nobody was ever shown.

The samples are backdated: a case reported forty days ago was routed then, checked the next
day and is now past its rectification deadline. Steps that take a ``now`` are given the
sample's time; for the others, ``_dated`` moves what the step stamped with the clock to the
sample's time. Two things keep the real time: the audit log (a hash chain records what was
done, when it was done: seeding), and a rectification deadline already past, which the
workflow rightly refuses to set, so it is set to today and then moved back.

Only a sample jurisdiction (``sample = true``) gets samples, and only once: a setting row
marks them loaded.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Mapper, Session

from portal.domain import clock
from portal.domain.access import accounts
from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships
from portal.domain.casework import routing, sla, workflow
from portal.domain.casework.leads import active_lead
from portal.domain.clock import utcnow
from portal.domain.disclosure import publication
from portal.domain.enums import (
    AssignmentState,
    CaseStatus,
    Channel,
    MessageDirection,
    RejectReason,
    Role,
    Severity,
    SupervisionLevel,
)
from portal.domain.inspection import check_results, draws, rounds, selfcheck, warnings
from portal.domain.models import (
    Assignment,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Department,
    Listing,
    ListingInterview,
    Message,
    Notification,
    Tip,
    Township,
    Unit,
    UrgingNotice,
    User,
    VenueType,
    Village,
)
from portal.domain.models.base import UTCDateTime
from portal.domain.reporting import intake, uploads
from portal.domain.reporting.identity import IdentityCipher
from portal.domain.supervision import listings, urging
from portal.domain.vetting import moderation
from portal.storage import Storage

SAMPLES_KEY = "samples"
MARK = "（示例）"
REFUSED = ("当前辖区不是示例辖区（sample = false），不会载入示例数据：示例举报只用于演示。"
           " / The loaded jurisdiction is not a sample (sample = false): sample reports are"
           " only for the demo.")
NO_JURISDICTION = ("尚未载入辖区，请先载入示例辖区 portal/data/demo_jurisdiction.toml。"
                   " / No jurisdiction is loaded: load portal/data/demo_jurisdiction.toml first.")
PHOTO_LIMITS = uploads.UploadLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)
# Rows whose times a step may stamp with the clock, and which ``_dated`` moves.
_DATED = (Case, Tip, Unit, Assignment, CaseEvent, Message, Notification, Listing,
          ListingInterview, UrgingNotice, Attachment)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


class SampleError(ValueError):
    """Samples cannot be loaded here; the message says why (in Chinese and English)."""


@dataclass
class SampleReport:
    """What ``seed_samples`` did; ``loaded`` is False when the samples were already there."""

    loaded: bool
    tips: int = 0
    cases: int = 0
    users: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_township: Counter[str] = field(default_factory=Counter)  # cases, by township's name
    overdue: int = 0
    listed: int = 0
    disclosed: int = 0
    # One sample tip's receipt code, to try the reporter's tracking page with.
    receipt_code: str | None = None

    def summary(self) -> str:
        if not self.loaded:
            return "示例数据此前已载入，未重复添加"
        stages = "，".join(f"{CaseStatus(s).label} {n}" for s, n in sorted(self.by_status.items()))
        places = "，".join(f"{name} {n}" for name, n in self.by_township.most_common())
        return (f"示例举报 {self.tips} 条，案件 {self.cases} 件（{stages}；超期 {self.overdue}，"
                f"挂牌督办 {self.listed}，已公示 {self.disclosed}；{places}），"
                f"示例工作人员 {self.users} 名（已停用）")


@dataclass(frozen=True)
class _Sample:
    """One sample tip and how far its case has gone."""

    unit: str
    village: str
    venue: str | None
    category: str
    days_ago: float
    stage: str  # pending, rejected, triage, routed, checking, rectifying, rectified, closed,
    #             unfounded
    description: str
    channel: Channel = Channel.WEB
    address: str = ""
    overdue: bool = False
    major: bool = False
    listed: SupervisionLevel | None = None
    disclosed: bool = False
    photo: bool = False
    merged: str = ""  # a second reporter's words about the same place
    reject: RejectReason | None = None
    answer: str = ""  # the moderator's question and the reporter's reply, "question|reply"
    extension: bool = False
    follow_up: bool = False
    receipt: bool = False


S = _Sample
SAMPLES: tuple[_Sample, ...] = (
    # Waiting for the moderators.
    S("王记小卖部（示例）", "V01", "street_shop", "blocked_escape", 0.2, "pending",
      "店铺后门被纸箱和饮料堆满，安全出口打不开，晚上店主一家住在店里。（示例）"),
    S("东庄村老戏台（示例）", "V02", "ancient_building", "candles_incense", 0.8, "pending",
      "老戏台旁边有人烧香点蜡烛，木头柱子离火很近，没人看管。（示例）", channel=Channel.PHONE),
    S("西沟村幸福院（示例）", "V03", "day_care", "wiring", 1.5, "pending",
      "幸福院走廊里电线乱拉，插线板一个接一个，冬天还整夜开电暖器。（示例）",
      answer="请问电线是在室内走廊还是院子里？大概有几处？（示例）|"
             "在室内走廊，有三四处，靠近老人住的房间。（示例）"),
    S("南岭村废品收购站（示例）", "V04", "other", "fire_separation", 2.5, "pending",
      "废品一直堆到隔壁民房墙根，中间没有留防火间距，天热时很危险。（示例）"),
    S("北坡村农家乐（示例）", "V05", "restaurant", "fire_electric_gas_misuse", 0.1, "pending",
      "厨房里液化气罐放在灶台边上，软管老化开裂，能闻到气味。（示例）", channel=Channel.GRID),
    # Refused, with a word to the reporter.
    S("阳高村文化广场（示例）", "V01", "other", "other", 20, "rejected",
      "广场上晚上跳广场舞音乐声音太大，影响休息。（示例）", reject=RejectReason.OUT_OF_SCOPE),
    S("某某地方（示例）", "V02", None, "other", 15, "rejected",
      "有隐患有隐患有隐患，快来看看。（示例）", reject=RejectReason.INSUFFICIENT),
    # Accepted, waiting to be routed.
    S("阳高村李家超市（示例）", "V01", "street_shop", "flammable_decoration", 0.3, "triage",
      "超市新装修，吊顶和墙面用的是泡沫板和木板，看着很容易着火。（示例）",
      address="阳高村中心街 8 号（示例）"),
    S("东庄村新建厂房（示例）", "V02", "labour_intensive", "sandwich_panel", 1.0, "triage",
      "村口新盖的厂房用的是泡沫夹芯彩钢板，里面有几十个工人。（示例）",
      channel=Channel.VISIT),
    # With the departments, waiting for the on-site check.
    S("西沟村张家面馆（示例）", "V03", "restaurant", "fire_electric_gas_misuse", 0.4, "routed",
      "面馆后厨私拉电线，电动车晚上推进店里充电。（示例）", address="西沟村南街 3 号（示例）"),
    S("南岭村豆腐坊（示例）", "V04", "family_workshop", "illegal_dwelling", 8, "routed",
      "豆腐坊里烧着锅炉，楼上就住着一家人，只有一个楼梯。（示例）", overdue=True),
    S("阳高村棋牌室（示例）", "V01", "street_shop", "blocked_escape", 2, "routed",
      "棋牌室只有一个门能进出，另一个安全出口被铁链锁住了。（示例）", overdue=True,
      address="阳高村东街 21 号（示例）",
      merged="棋牌室后门一直锁着，里面人多烟大，出了事跑不出来。（示例）"),
    S("北坡村卫生室（示例）", "V05", "medical", "wiring", 1.2, "checking",
      "卫生室输液间的电线老化，外皮都裂了，插座发烫。（示例）"),
    S("东庄村粮油店（示例）", "V02", "street_shop", "wiring", 15, "checking",
      "粮油店仓库里电线直接钉在木梁上，没有穿管。（示例）", overdue=True,
      address="东庄村北街 5 号（示例）"),
    S("西沟村出租屋（示例）", "V03", "old_residential", "illegal_dwelling", 2, "checking",
      "一栋老房子隔成十几间出租，住了很多人，楼道里堆满杂物。（示例）"),
    # Confirmed, being rectified.
    S("阳高村鑫源加工厂（示例）", "V01", "factory_in_factory", "hot_work", 40, "rectifying",
      "厂里经常电焊切割，旁边就堆着油漆桶，没人看火。（示例）", overdue=True, disclosed=True,
      address="阳高村工业路 2 号（示例）"),
    S("南岭村家具厂（示例）", "V04", "labour_intensive", "flammable_decoration", 60,
      "rectifying", "家具厂车间里刨花木屑堆积，喷漆房和车间没有隔开，工人在车间里抽烟。（示例）",
      major=True, listed=SupervisionLevel.COUNTY, disclosed=True, photo=True,
      address="南岭村西路 16 号（示例）",
      merged="家具厂喷漆的味道很大，晚上还有人住在车间楼上。（示例）"),
    S("东庄村幼儿园（示例）", "V02", "kindergarten", "compartmentation", 20, "rectifying",
      "幼儿园午睡室和厨房连在一起，中间只隔了一道木门。（示例）", disclosed=True, photo=True,
      address="东庄村学校路 1 号（示例）"),
    S("北坡村汽修店（示例）", "V05", "street_shop", "fire_electric_gas_misuse", 25,
      "rectifying", "汽修店里乱接电线给电瓶充电，汽油桶就放在旁边。（示例）", overdue=True,
      address="北坡村公路边 9 号（示例）"),
    S("阳高村东街商住楼（示例）", "V01", "mixed_residential", "blocked_fire_lane", 12,
      "rectifying", "商住楼下的消防车道被摆摊和私家车占满，消防车根本进不去。（示例）",
      disclosed=True, extension=True, address="阳高村东街 40 号（示例）"),
    S("西沟村养殖场（示例）", "V03", "other", "illegal_construction", 30, "rectifying",
      "养殖场在院子里私搭了一排彩钢棚，里面堆满草料。（示例）"),
    S("南岭村关帝庙（示例）", "V04", "ancient_building", "candles_incense", 18, "rectifying",
      "关帝庙里香客随意点蜡焚香，旁边就是木质神龛，没有灭火器。（示例）", disclosed=True),
    S("东庄村宾馆（示例）", "V02", "self_built_business", "facilities_disabled", 35,
      "rectifying", "宾馆的消防栓没有水，灭火器都过期了，烟感报警器被拆掉。（示例）",
      overdue=True),
    # Reported rectified, waiting for closure.
    S("北坡村超市（示例）", "V05", "street_shop", "flammable_insulation", 30, "rectified",
      "超市外墙刚贴了泡沫保温板，没有做防火隔离带。（示例）", address="北坡村中街 12 号（示例）"),
    S("阳高村烧烤店（示例）", "V01", "restaurant", "fire_electric_gas_misuse", 22, "rectified",
      "烧烤店门口同时放了五六个液化气罐，烤炉就在旁边。（示例）", disclosed=True,
      address="阳高村东街 3 号（示例）"),
    # Closed.
    S("东庄村加气站旁修理铺（示例）", "V02", "other", "hot_work", 90, "closed",
      "修理铺在加气站旁边电焊，火星乱溅。（示例）", disclosed=True, receipt=True),
    S("西沟村敬老院（示例）", "V03", "day_care", "facilities_disabled", 75, "closed",
      "敬老院的火灾报警器一直在响，工作人员把它关掉了。（示例）", disclosed=True,
      follow_up=True),
    S("南岭村门窗店（示例）", "V04", "street_shop", "wiring", 50, "closed",
      "门窗店切割机的电线从地上拖过，被压破了好几处。（示例）", disclosed=True,
      address="南岭村东街 7 号（示例）"),
    S("北坡村仓库（示例）", "V05", "other", "sandwich_panel", 120, "closed",
      "村北仓库是泡沫彩钢板搭的，里面存着化肥和农药，旁边还住着看门人。（示例）",
      major=True, listed=SupervisionLevel.TOWNSHIP, disclosed=True),
    S("阳高村理发店（示例）", "V01", "street_shop", "wiring", 45, "closed",
      "理发店里好几个吹风机插在一个插线板上，插线板烧黑了。（示例）"),
    S("东庄村饭店（示例）", "V02", "restaurant", "blocked_escape", 10, "unfounded",
      "饭店后门好像被堵了，不知道还能不能出去。（示例）"),
    S("西沟村砖厂（示例）", "V03", "labour_intensive", "illegal_dwelling", 28, "unfounded",
      "砖厂工人住在窑洞旁边的库房里。（示例）"),
    # 北社乡（示例）: its own office, police station and law enforcement, county departments
    # for what its own rules do not name. Its 东庄村 shares a name with 阳高乡's.
    S("北社村小饭馆（示例）", "BS-V01", "restaurant", "fire_electric_gas_misuse", 0.5,
      "pending", "小饭馆灶台旁边放着两个液化气罐，没有报警器。（示例）"),
    S("东庄村（北社乡）某处（示例）", "BS-V02", None, "other", 9, "rejected",
      "听说村里有隐患。（示例）", reject=RejectReason.INSUFFICIENT),
    S("东庄村大车店（示例）", "BS-V02", "old_residential", "illegal_dwelling", 3, "routed",
      "大车店把仓库隔成小间住人，楼下就是柴油桶。（示例）", overdue=True,
      address="北社乡东庄村南口（示例）"),
    S("前庄村农贸市场（示例）", "BS-V03", "other", "blocked_fire_lane", 26, "rectifying",
      "农贸市场的摊位把消防车道全占了，早上车都开不进去。（示例）", overdue=True,
      disclosed=True, address="前庄村集市路（示例）"),
    S("北社村小卖部（示例）", "BS-V01", "street_shop", "wiring", 55, "closed",
      "小卖部的电线从房檐上拖到院里充电，外皮都破了。（示例）", disclosed=True),
    # 西沟乡（示例）: its office and police station; the county's departments for the rest.
    S("池底村养老院（示例）", "XG-V02", "day_care", "wiring", 1.1, "pending",
      "养老院房间里用电褥子和小太阳，插线板串着插。（示例）", channel=Channel.PHONE),
    S("西沟村小学旁文具店（示例）", "XG-V01", "street_shop", "flammable_decoration", 0.6,
      "triage", "文具店新装了泡沫吊顶，店里堆满纸张。（示例）"),
    S("西沟村石料厂宿舍（示例）", "XG-V01", "labour_intensive", "illegal_dwelling", 4,
      "checking", "石料厂的工人住在库房隔间里，只有一个门。（示例）"),
    S("池底村饭店（示例）", "XG-V02", "restaurant", "fire_electric_gas_misuse", 28,
      "rectified", "饭店后厨液化气软管老化，灶台上全是油污。（示例）", disclosed=True,
      address="池底村村口（示例）"),
)
del S

_PROGRESS = ("已清理部分堆放物，正在更换老化电线。（示例）",
             "已停止违规作业，整改方案已报部门审核。（示例）",
             "已购置灭火器和应急照明，正在施工防火分隔。（示例）")


# ---------------------------------------------------------------- the clock of the samples


def _time_columns(model: type) -> list[str]:
    mapper: Mapper[Any] = inspect(model)
    return [attr.key for attr in mapper.column_attrs
            if isinstance(attr.columns[0].type, UTCDateTime)]


_COLUMNS: dict[type, list[str]] = {model: _time_columns(model) for model in _DATED}


@contextmanager
def _dated(session: Session, when: dt.datetime) -> Iterator[None]:
    """Run a step, then date at ``when`` every time it stamped with the clock: the values
    the clock gave while the step ran, on the rows a step writes."""
    # The identity map holds rows only while something refers to them: keep the rows the
    # step adds (events, messages, notifications it lets go) until they are dated.
    added: list[object] = []

    def keep(_session: Session, obj: object) -> None:
        added.append(obj)

    event.listen(session, "pending_to_persistent", keep)
    start = utcnow()
    try:
        yield
        session.flush()
    finally:
        event.remove(session, "pending_to_persistent", keep)
    end = utcnow()
    for obj in list(session.identity_map.values()):
        columns = _COLUMNS.get(type(obj))
        if not columns:
            continue
        for name in columns:
            value = obj.__dict__.get(name)  # loaded values only: nothing is read again
            if isinstance(value, dt.datetime) and start <= value <= end:
                setattr(obj, name, when)
    session.flush()


# ---------------------------------------------------------------- the people who act


def _plain(township: Township) -> str:
    """The township's name without the sample mark (the staff's names carry one already)."""
    return township.name.replace(MARK, "")


@dataclass
class _Staff:
    session: Session
    created: list[User] = field(default_factory=list)
    _users: dict[str, User] = field(default_factory=dict)

    def _user(self, username: str, role: Role, display_name: str,
              department: Department | None = None,
              township: Township | None = None) -> User:
        if username not in self._users:
            user = accounts.find_user(self.session, username)
            if user is None:
                # A password nobody is ever shown; the account is deactivated at the end.
                user = accounts.create_user(
                    self.session, username, role, accounts.generate_password(),
                    department_code=department.code if department else None,
                    township_code=township.code if township else None,
                    display_name=display_name)
                self.created.append(user)
            self._users[username] = user
        return self._users[username]

    def everyone(self) -> None:
        """Every township's moderator and supervisor, and the county's supervisor and
        administrator, whether or not a sample needs them."""
        for township in townships.active(self.session):
            self.moderator(township)
            self.supervisor(township)
        self.supervisor(None)
        self._user("sample-admin-county", Role.ADMIN, f"县消安委系统管理员{MARK}")

    def moderator(self, township: Township) -> User:
        return self._user(f"sample-moderator-{township.code}", Role.MODERATOR,
                          f"{_plain(township)}消安办审核员{MARK}", township=township)

    def supervisor(self, township: Township | None) -> User:
        if township is None:
            return self._user("sample-supervisor-county", Role.SUPERVISOR,
                              f"县领导组督办人员{MARK}")
        return self._user(f"sample-supervisor-{township.code}", Role.SUPERVISOR,
                          f"{_plain(township)}领导组督办人员{MARK}", township=township)

    def grid_inspector(self, township: Township) -> User:
        return self._user(f"sample-grid-{township.code}", Role.GRID_INSPECTOR,
                          f"{_plain(township)}网格员{MARK}", township=township)

    def officer(self, department: Department) -> User:
        return self._user(f"sample-{department.code.lower()}", Role.OFFICER,
                          f"{department.name}经办人{MARK}", department)

    def retire(self) -> None:
        for user in self.created:
            if user.role is Role.ADMIN and accounts.active_admin_count(self.session) <= 1:
                # A demo just set up has no administrator of its own yet (`flask users
                # create` makes one); the sample one is nobody's way in, so the guard that
                # keeps the last administrator active does not apply to it.
                user.active = False
                self.session.flush()
                continue
            accounts.deactivate(self.session, user, actor=None)


# ---------------------------------------------------------------- seeding


def _by_code(session: Session, model: type, code: str) -> int:
    row = session.scalar(select(model.id).where(model.code == code))  # type: ignore[attr-defined]
    if row is None:
        raise SampleError(f"示例辖区缺少代码为 {code} 的条目，请重新载入 demo_jurisdiction.toml")
    return int(row)


def _sample_photo(session: Session, storage: Storage, actor: User) -> Attachment:
    """A drawn picture, not a photograph: a shelf of boxes before a door, marked SAMPLE."""
    image = Image.new("RGB", (640, 480), (214, 208, 196))
    draw = ImageDraw.Draw(image)
    draw.rectangle((380, 80, 560, 440), fill=(90, 110, 90), outline=(40, 40, 40), width=4)
    for row in range(4):
        for col in range(3):
            x, y = 40 + col * 110, 440 - (row + 1) * 80
            draw.rectangle((x, y, x + 100, y + 76), fill=(176, 134, 80), outline=(90, 60, 30))
    draw.text((20, 16), "SAMPLE", fill=(180, 0, 0))
    raw = io.BytesIO()
    image.save(raw, format="PNG")
    processed = uploads.process_image(raw.getvalue(), PHOTO_LIMITS)
    return uploads.store_image(session, storage, processed, uploaded_by_id=actor.id)


class _Seeder:
    def __init__(self, session: Session, now: dt.datetime, *, cipher: IdentityCipher,
                 receipt_key: str, storage: Storage | None) -> None:
        self.session, self.now = session, now
        self.cipher, self.receipt_key, self.storage = cipher, receipt_key, storage
        self.staff = _Staff(session)
        self.report = SampleReport(loaded=True)
        self.cases: list[Case] = []
        # The township of the sample being seeded: its own staff act on it.
        self.place: Township | None = None

    def township(self) -> Township:
        assert self.place is not None
        return self.place

    def moderator(self) -> User:
        return self.staff.moderator(self.township())

    def supervisor(self, level: SupervisionLevel | None = None) -> User:
        """The township's supervisor; the county's lists a case for county supervision."""
        county = level is not None and level is not SupervisionLevel.TOWNSHIP
        return self.staff.supervisor(None if county else self.township())

    def at(self, when: dt.datetime) -> AbstractContextManager[None]:
        return _dated(self.session, min(when, self.now))

    def submit(self, sample: _Sample, text: str, when: dt.datetime) -> tuple[Tip, str | None]:
        staff_entry = sample.channel is not Channel.WEB
        data = intake.TipInput(
            channel=sample.channel,
            village_id=_by_code(self.session, Village, sample.village),
            category_id=_by_code(self.session, Category, sample.category),
            venue_type_id=(_by_code(self.session, VenueType, sample.venue)
                           if sample.venue else None),
            unit_name=sample.unit, description=text, address=sample.address,
            observed_at=when - 3 * HOUR,
            created_by=self.moderator() if staff_entry else None)
        with self.at(when):
            result = intake.submit_tip(self.session, data, cipher=self.cipher,
                                       receipt_key=self.receipt_key, now=when)
        self.report.tips += 1
        return result.tip, result.receipt_code

    def seed(self, sample: _Sample) -> None:
        village = self.session.get_one(Village, _by_code(self.session, Village, sample.village))
        self.place = village.township
        reported = self.now - dt.timedelta(days=sample.days_ago)
        tip, code = self.submit(sample, sample.description, reported)
        if sample.receipt:
            self.report.receipt_code = code
        moderator = self.moderator()
        if sample.answer:
            question, reply = sample.answer.split("|")
            with self.at(reported + 2 * HOUR):
                moderation.ask_reporter(self.session, tip, question, actor=moderator)
            # The reporter answers on the tracking page, a view with no domain step.
            self.session.add(Message(tip_id=tip.id, direction=MessageDirection.FROM_REPORTER,
                                     body=reply, created_at=reported + 5 * HOUR))
            self.session.flush()
        if sample.stage == "pending":
            return
        if sample.stage == "rejected":
            assert sample.reject is not None
            with self.at(reported + 4 * HOUR):
                moderation.reject_tip(
                    self.session, tip, sample.reject,
                    "感谢您的反映。经审核，该情况不属于火灾隐患举报的受理范围或信息不足以核查；"
                    f"如发现火灾隐患，欢迎写明地点和具体情况后再次举报。{MARK}",
                    actor=moderator)
            return
        with self.at(reported + HOUR):
            case = moderation.accept_tip(self.session, tip, moderation.UnitDetails(
                name=tip.unit_name, village_id=tip.village_id, category_id=tip.category_id,
                venue_type_id=tip.venue_type_id, address=tip.address), actor=moderator)
        self.cases.append(case)
        self.work(case, sample, reported)
        case.updated_at = max(e.created_at for e in case.events)
        self.session.flush()

    def work(self, case: Case, sample: _Sample, reported: dt.datetime) -> None:
        session, moderator = self.session, self.moderator()
        if sample.major:
            with self.at(reported + 90 * MINUTE):
                workflow.set_severity(
                    session, case, Severity.MAJOR, actor=moderator,
                    basis=f"乡消安办会同消防队三人集体判定，依据 GB 35181-2025 直接判定要素{MARK}")
        if sample.stage == "triage":
            return
        routed = reported + 2 * HOUR
        proposal = routing.propose_for_case(session, case)
        with self.at(routed):
            routing.route_case(session, case, lead=proposal.lead, assists=proposal.assists,
                               actor=moderator, now=routed,
                               summary=routing.draft_department_summary(session, case))
        if sample.merged:  # a second reporter, about the same place, the same morning
            second, _ = self.submit(sample, sample.merged, reported + 150 * MINUTE)
            with self.at(reported + 3 * HOUR):
                moderation.merge_tip(session, second, case, actor=moderator)
        if sample.stage == "routed":
            return
        signed = reported + 4 * HOUR
        lead = active_lead(case)
        assert lead is not None
        officer = self.staff.officer(lead.department)
        with self.at(signed):
            workflow.accept_assignment(session, lead, actor=officer, now=signed)
        if sample.stage == "checking":
            return
        confirmed = sample.stage != "unfounded"
        if confirmed:
            self.assisting(case, signed + HOUR)
        checked = reported + 20 * HOUR
        with self.at(checked):
            workflow.record_check(
                session, case, actor=officer, confirmed=confirmed,
                findings=("现场核查，举报情况属实，已拍照取证。" if confirmed
                          else "现场核查，未发现举报所述情况。") + MARK)
        if not confirmed:
            return
        self.rectify(case, sample, officer, reported, checked)

    def assisting(self, case: Case, when: dt.datetime) -> None:
        """The assisting departments sign for their assignments too."""
        for assignment in list(case.assignments):
            if assignment.state is AssignmentState.PENDING:
                with self.at(when):
                    workflow.accept_assignment(
                        self.session, assignment, now=when,
                        actor=self.staff.officer(assignment.department))

    def rectify(self, case: Case, sample: _Sample, officer: User, reported: dt.datetime,
                checked: dt.datetime) -> None:
        session, moderator, supervisor = self.session, self.moderator(), self.supervisor()
        lister = self.supervisor(sample.listed)
        today = clock.local_today(self.now)
        age = self.now - reported
        if sample.overdue:
            deadline = today - dt.timedelta(days=max(2, int(sample.days_ago) // 5))
        elif sample.stage == "rectifying":
            deadline = today + dt.timedelta(days=10 + int(sample.days_ago) % 20)
        else:
            deadline = clock.local_today(reported + age * 0.8) + dt.timedelta(days=5)
        with self.at(checked + HOUR):
            self.set_deadline(case, officer, deadline, len(self.cases))
        if sample.listed is not None:
            with self.at(checked + 2 * HOUR):
                listing = listings.list_case(
                    session, case, actor=lister, level=sample.listed, now=checked + 2 * HOUR,
                    deadline=deadline,
                    responsible_leader=f"分管副乡长{MARK}")
        if sample.disclosed:
            disclosed = checked + DAY
            with self.at(disclosed):
                publication.disclose_case(
                    session, case, actor=moderator, now=disclosed,
                    public_summary=f"{case.unit.name}：{case.category.name}，"
                                   f"已责令限期整改。{MARK}")
        if sample.listed is not None:
            with self.at(checked + 3 * DAY):
                listings.record_interview(
                    session, listing, actor=lister, held_at=checked + 3 * DAY,
                    participants=f"{case.unit.name}负责人", notes=f"约谈整改责任人{MARK}")
        progress = reported + age * 0.5
        with self.at(progress):
            photos = ([_sample_photo(session, self.storage, officer)]
                      if sample.photo and self.storage is not None else [])
            workflow.post_progress(session, case, actor=officer, attachments=photos,
                                   internal_text=f"已督促整改，现场复查一次。{MARK}",
                                   public_text=_PROGRESS[len(self.cases) % len(_PROGRESS)])
            if photos and sample.disclosed:
                publication.set_public_photos(session, case, [p.id for p in photos],
                                              actor=moderator)
        if sample.extension:
            with self.at(self.now - 2 * DAY):
                assert case.rectify_by is not None
                workflow.request_extension(
                    session, case, actor=officer, new_date=case.rectify_by + 15 * DAY,
                    reason=f"占道摊点需与村委会协调搬迁，申请延期半个月{MARK}")
        if sample.stage == "rectifying":
            return
        with self.at(reported + age * 0.75):
            workflow.report_rectified(session, case, actor=officer,
                                      report=f"已按要求整改完毕，附整改前后照片。{MARK}")
        if sample.stage == "rectified":
            return
        closed = reported + age * 0.85
        with self.at(closed):
            workflow.approve_closure(
                session, case, actor=supervisor, note=f"复查合格，同意销案。{MARK}",
                follow_up_by=today + 10 * DAY if sample.follow_up else None)
        if sample.listed is not None:
            with self.at(closed + 2 * HOUR):
                listings.delist_case(session, case, actor=lister, now=closed + 2 * HOUR,
                                     note=f"整改销案，予以摘牌{MARK}")

    def set_deadline(self, case: Case, officer: User, deadline: dt.date, number: int) -> None:
        today = clock.local_today()
        prefix = _plain(self.township())[0]  # 阳消改字, 北消改字: the township's office
        notice_no = f"{prefix}消改字〔{deadline.year}〕第 {number} 号{MARK}"
        event = workflow.set_rectification(
            self.session, case, actor=officer, deadline=max(deadline, today),
            notice_no=notice_no, public_text=f"责令限期整改，整改期限至{deadline:%Y年%m月%d日}")
        if deadline < today:
            # The workflow refuses a deadline already past (rightly); a backdated sample has
            # one, so the deadline set today is moved back to it.
            case.rectify_by = deadline
            event.internal_text = f"整改期限 {deadline.isoformat()}，通知书编号 {notice_no}"
            event.data = {**(event.data or {}), "rectify_by": deadline.isoformat()}
            self.session.flush()

    def urge(self) -> None:
        """A township's supervisor urges the department with the most overdue samples of
        that township (阳高乡's fire station), which signs for it the next morning."""
        issued = self.now - DAY
        by_department: dict[tuple[int, int], list[Case]] = {}
        for case in self.cases:
            lead = active_lead(case)
            if lead is not None and sla.is_overdue(case, issued):
                key = (case.village.township_id, lead.department_id)
                by_department.setdefault(key, []).append(case)
        if not by_department:
            return
        (_township, department_id), cases = max(by_department.items(),
                                                key=lambda item: len(item[1]))
        department = self.session.get_one(Department, department_id)  # held by a case
        self.place = cases[0].village.township
        county = portal_settings.jurisdiction(self.session)["name"]
        place = townships.place_name(county, self.place)
        with self.at(issued):
            notice = urging.issue_notice(
                self.session, department, cases, actor=self.supervisor(), now=issued,
                text=urging.draft_text(department, cases, place) + f"\n{MARK}")
        signed = issued + 16 * HOUR
        with self.at(signed):
            urging.acknowledge_notice(self.session, notice, now=signed,
                                      actor=self.staff.officer(department))

    def inspect(self) -> None:
        """Issue 22 in the demo, in 阳高乡: a winter round over 阳高村 for its grid
        inspector (its tasks open), a random check by the fire team whose first result is in
        and public (/checks), a disclosed unit's signed commitment (its public page), and a
        risk warning in force (/warnings, the feed). Each through the steps staff take."""
        session = self.session
        town = townships.by_code(session, "yanggao")
        if town is None:
            return
        self.place = town
        supervisor, moderator = self.supervisor(), self.moderator()
        grid = self.staff.grid_inspector(town)
        fire = session.get_one(Department, _by_code(session, Department, "FIRE"))
        self.staff.officer(fire)
        today = clock.local_today(self.now)
        started = self.now - 2 * DAY
        with self.at(started):
            rounds.plan_round(
                session, township=town, name=f"冬季消防安全排查{MARK}", venue_type_ids=[],
                village_ids=[_by_code(session, Village, "V01")], department_ids=[],
                inspector_ids=[grid.id], starts_on=today - 2 * DAY, ends_on=today + 14 * DAY,
                actor=supervisor)
            drawn = draws.draw(
                session, township=town, department=fire, unit_count=2, inspector_count=1,
                seed="demo-2026-12", actor=supervisor, name=f"消防队双随机抽查{MARK}",
                starts_on=today - 2 * DAY, ends_on=today + 28 * DAY)
        assert drawn.round is not None
        task = drawn.round.tasks[0]
        assert task.inspector is not None
        with self.at(self.now - DAY):
            rounds.complete_task(
                session, task, answers={i.code: "ok" for i in rounds.checklist_of(task).items},
                notes="", lat=None, lon=None, actor=task.inspector)
            check_results.decide(session, task, approve=True, actor=moderator)
        shown = next((c.unit for c in self.cases
                      if c.disclosed and c.village.township_id == town.id), None)
        if shown is not None:
            issued = selfcheck.issue_code(session, shown, actor=moderator, key=self.receipt_key)
            selfcheck.submit(
                session, issued.code,
                answers={i.code: "ok" for i in selfcheck.checklist_of(shown).items},
                problems="", fix_by=None, signer_name=f"负责人{MARK}", agreed=True,
                cipher=self.cipher, key=self.receipt_key)
        warning = warnings.create_warning(session, warnings.WarningInput(
            kind="holiday", title=f"元旦、春节期间消防安全风险提示{MARK}",
            text=f"元旦、春节期间用火用电用气增多，请各经营场所落实防火巡查，保持疏散通道畅通，"
                 f"严禁违规住人和私拉乱接电线。{MARK}",
            starts_on=today, ends_on=today + 60 * DAY, township_id=town.id), actor=supervisor)
        warnings.publish(session, warning, actor=supervisor, cipher=self.cipher)

    def tally(self) -> None:
        report = self.report
        report.cases = len(self.cases)
        report.users = len(self.staff.created)
        for case in self.cases:
            report.by_status[case.status.value] += 1
            report.by_township[case.village.township.name] += 1
            report.overdue += sla.is_overdue(case, self.now)
            report.disclosed += case.disclosed
            report.listed += listings.active_listing(self.session, case) is not None


def samples_loaded(session: Session) -> bool:
    return portal_settings.get(session, SAMPLES_KEY) is not None


def is_new(session: Session) -> bool:
    """Nothing has been reported or opened yet: a portal just set up."""
    return not (session.scalar(select(func.count()).select_from(Tip))
                or session.scalar(select(func.count()).select_from(Case)))


def check_sample_jurisdiction(session: Session) -> None:
    """Refuse unless the loaded jurisdiction is a sample one (a real one never gets samples)."""
    if portal_settings.get(session, portal_settings.JURISDICTION_KEY) is None:
        raise SampleError(NO_JURISDICTION)
    if not portal_settings.jurisdiction(session).get("sample"):
        raise SampleError(REFUSED)


def seed_samples(session: Session, *, now: dt.datetime | None = None,
                 cipher: IdentityCipher, receipt_key: str,
                 storage: Storage | None = None) -> SampleReport:
    """Add the sample tips and cases, dated before ``now``, once. Photos are drawn for two
    disclosed cases when ``storage`` is given. Flushes; the caller commits."""
    check_sample_jurisdiction(session)
    if samples_loaded(session):
        return SampleReport(loaded=False)
    seeder = _Seeder(session, now or utcnow(), cipher=cipher, receipt_key=receipt_key,
                     storage=storage)
    seeder.staff.everyone()
    for sample in SAMPLES:
        seeder.seed(sample)
    seeder.urge()
    seeder.inspect()
    seeder.tally()
    seeder.staff.retire()
    report = seeder.report
    portal_settings.put(session, SAMPLES_KEY, {
        "loaded_at": seeder.now.isoformat(), "tips": report.tips, "cases": report.cases,
        "users": [u.username for u in seeder.staff.created]})
    return report
