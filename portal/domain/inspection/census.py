"""A village's census of places (底数普查) imported into the register, from CSV or XLSX.

The file's first row names the columns (``COLUMNS``, in Chinese, in any order; only 村 and
名称 are required). Each row is one place: matched on the census's own reference (编号) where
the file has one, else by ``register.match_unit``, the register's one rule for "the same
place"; a new place becomes a unit with ``source="census"``. An empty cell never blanks what
the register knows. Any row in error and nothing is written: every error is named by its row
number (as the spreadsheet shows it, the header being row 1) and column. A dry run answers
what would be created, updated or left unchanged, and writes nothing; a second import of the
same file changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.clock import utcnow
from portal.domain.inspection import register, tables
from portal.domain.inspection.tables import RowError
from portal.domain.models import Unit, User, VenueType, Village
from portal.domain.reporting.identity import IdentityCipher, normalize_phone

# Column header -> what it holds; the headers people also write for the same thing.
COLUMNS: dict[str, str] = {
    "村": "village", "名称": "name", "地址": "address", "场所类型": "venue_type",
    "负责人": "responsible", "联系电话": "contact", "风险等级": "risk_level", "编号": "ref",
    "纬度": "lat", "经度": "lon",
}
ALIASES: dict[str, str] = {
    "行政村": "村", "所在村": "村", "村名": "村", "单位名称": "名称", "场所名称": "名称",
    "详细地址": "地址", "类型": "场所类型", "负责人姓名": "负责人", "电话": "联系电话",
    "联系方式": "联系电话", "手机": "联系电话", "普查编号": "编号", "风险": "风险等级",
}
REQUIRED = ("村", "名称")
RISK_WORDS: dict[str, str] = {"低": "low", "较低": "low", "一般": "normal", "中": "normal",
                              "高": "high", "较高": "high",
                              **{key: key for key in register.RISK_LEVELS}}
MAX_ROWS = 5000


class CensusError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


def read_table(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    try:
        return tables.read_rows(data, filename)
    except tables.TableError as exc:
        raise CensusError(str(exc)) from exc


@dataclass(frozen=True)
class Planned:
    """What the import does (or would do) with one row."""

    row: int
    action: str  # "create" | "update" | "unchanged"
    name: str
    village: str
    unit_id: int | None = None
    changes: tuple[str, ...] = ()


@dataclass
class CensusReport:
    dry_run: bool
    errors: list[RowError] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for p in self.planned if p.action == action)

    @property
    def message(self) -> str:
        figures = (f"新增 {self.count('create')} 个、更新 {self.count('update')} 个、"
                   f"未变 {self.count('unchanged')} 个场所")
        if self.errors:
            return f"文件有 {len(self.errors)} 处错误，未导入任何内容"
        return f"试导入（未保存）：将{figures}" if self.dry_run else f"已导入：{figures}"


def _header(cells: list[str]) -> tuple[dict[str, int], list[str]]:
    """Column -> index, and the headers not understood (ignored)."""
    found: dict[str, int] = {}
    ignored = []
    for index, raw in enumerate(cells):
        name = raw.strip().strip("*＊").strip()
        name = ALIASES.get(name, name)
        if name in COLUMNS and name not in found:
            found[name] = index
        elif raw.strip():
            ignored.append(raw.strip())
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise CensusError(f"文件的第一行须为表头，缺少列：{'、'.join(missing)}"
                          f"（可用的列：{'、'.join(COLUMNS)}）")
    return found, ignored


# ------------------------------------------------------------------------------- one row checked

@dataclass
class _Place:
    row: int
    village: Village
    name: str
    address: str = ""
    venue_type_id: int | None = None
    responsible: str = ""
    contact: str = ""
    risk_level: str = ""
    ref: str = ""
    lat: float | None = None
    lon: float | None = None


class _Vocabulary:
    """The township's villages and the venue types, by code and by name."""

    def __init__(self, session: Session, township_id: int) -> None:
        villages = list(session.scalars(select(Village).where(
            Village.township_id == township_id, Village.active.is_(True))))
        self.villages = {**{v.name: v for v in villages}, **{v.code: v for v in villages}}
        venues = list(session.scalars(select(VenueType).where(VenueType.active.is_(True))))
        self.venues = {**{v.name: v for v in venues}, **{v.code: v for v in venues}}


def _place(number: int, cell: dict[str, str], vocabulary: _Vocabulary,
           errors: list[RowError]) -> _Place | None:
    def error(column: str, message: str) -> None:
        errors.append(RowError(number, column, message))

    village = vocabulary.villages.get(cell["村"])
    if not cell["村"]:
        error("村", "未填写")
    elif village is None:
        error("村", f"本乡镇没有“{cell['村']}”这个村（填村的代码或名称）")
    name = cell["名称"]
    if not name:
        error("名称", "未填写")
    elif len(name) > 100:
        error("名称", "超过 100 字")
    if len(cell["地址"]) > 200:
        error("地址", "超过 200 字")
    venue = vocabulary.venues.get(cell["场所类型"]) if cell["场所类型"] else None
    if cell["场所类型"] and venue is None:
        error("场所类型", f"没有“{cell['场所类型']}”这个场所类型（填代码或名称）")
    risk = RISK_WORDS.get(cell["风险等级"]) if cell["风险等级"] else ""
    if risk is None:
        error("风险等级", "只能填 低、一般 或 高")
    contact = ""
    if cell["联系电话"]:
        contact = normalize_phone(cell["联系电话"]) or ""
        if not contact:
            error("联系电话", "不是有效的手机或固定电话号码")
    if len(cell["负责人"]) > 100:
        error("负责人", "超过 100 字")
    if len(cell["编号"]) > 64:
        error("编号", "超过 64 个字符")
    lat, lon = _coordinate(cell["纬度"], -90, 90), _coordinate(cell["经度"], -180, 180)
    if lat is False:
        error("纬度", "须为 -90 到 90 之间的数字")
    if lon is False:
        error("经度", "须为 -180 到 180 之间的数字")
    if (cell["纬度"] == "") != (cell["经度"] == ""):
        error("经度" if cell["纬度"] else "纬度", "经度和纬度须同时填写")
    if (errors and errors[-1].row == number) or village is None:
        return None
    return _Place(number, village, name, cell["地址"], venue.id if venue else None,
                  cell["负责人"], contact, risk or "", cell["编号"],
                  lat if isinstance(lat, float) else None,
                  lon if isinstance(lon, float) else None)


def _coordinate(raw: str, low: float, high: float) -> float | bool | None:
    """The number, None when empty, False when not a number in range."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return False
    return value if low <= value <= high else False


# ----------------------------------------------------------------------------------- the import

def import_census(session: Session, data: bytes, filename: str, *, township_id: int,
                  cipher: IdentityCipher, actor: User, dry_run: bool = False,
                  ip: str = "") -> CensusReport:
    """Import the census file into the township's register (see the module's docstring).
    Raises CensusError when the file cannot be read at all; row errors are in the report."""
    report = CensusReport(dry_run=dry_run)
    rows = read_table(data, filename)
    if not rows:
        raise CensusError("文件是空的")
    if len(rows) - 1 > MAX_ROWS:
        raise CensusError(f"一次最多导入 {MAX_ROWS} 行，请分村导入")
    columns, report.ignored_columns = _header(rows[0][1])
    vocabulary = _Vocabulary(session, township_id)
    places = []
    refs: dict[str, int] = {}
    for number, cells in rows[1:]:
        cell = {name: (cells[columns[name]].strip()
                       if name in columns and columns[name] < len(cells) else "")
                for name in COLUMNS}
        place = _place(number, cell, vocabulary, report.errors)
        if place is not None and place.ref:
            if place.ref in refs:
                report.errors.append(RowError(number, "编号", f"与第 {refs[place.ref]} 行重复"))
                continue
            refs[place.ref] = number
        if place is not None:
            places.append(place)
    if report.errors:
        return report
    # Written in a savepoint: a dry run, or a row refused on the way, undoes all of it; a
    # row matching one created earlier in the same file finds it.
    savepoint = session.begin_nested()
    try:
        for place in places:
            report.planned.append(_apply(session, place, township_id, cipher, report.errors))
    except Exception:
        savepoint.rollback()
        raise
    if dry_run or report.errors:
        savepoint.rollback()
        return report
    savepoint.commit()
    audit.record(session, "census.import", "township", township_id, actor=actor, ip=ip,
                 after={"file": filename[:200], "rows": len(places),
                        "created": report.count("create"), "updated": report.count("update"),
                        "unchanged": report.count("unchanged"),
                        "unit_ids": [p.unit_id for p in report.planned
                                     if p.action != "unchanged"]})
    return report


def _by_ref(session: Session, township_id: int, ref: str) -> Unit | None:
    """The unit the census's reference names (where a merged one lives on)."""
    found = list(session.scalars(
        select(Unit).join(Unit.village)
        .where(Village.township_id == township_id, Unit.census_ref == ref)
        .order_by(Unit.merged_into_id.is_not(None), Unit.id)))
    return register.kept_unit(session, found[0]) if found else None


def _apply(session: Session, place: _Place, township_id: int, cipher: IdentityCipher,
           errors: list[RowError]) -> Planned:
    unit = _by_ref(session, township_id, place.ref) if place.ref else None
    if unit is not None and unit.village_id != place.village.id:
        errors.append(RowError(place.row, "编号",
                               f"编号 {place.ref} 已是{unit.village.name}的“{unit.name}”"))
        return Planned(place.row, "unchanged", place.name, place.village.name, unit.id)
    if unit is None:
        unit = register.match_unit(session, village_id=place.village.id, name=place.name,
                                   address=place.address)
        if unit is not None and place.ref and unit.census_ref and unit.census_ref != place.ref:
            unit = None  # the same name, but the census says another place
    if unit is None:
        unit = register.unit_for(session, village_id=place.village.id, name=place.name,
                                 address=place.address, source="census")
        _update(unit, place, cipher)
        session.flush()
        return Planned(place.row, "create", place.name, place.village.name, unit.id)
    changes = _update(unit, place, cipher)
    if changes:
        unit.updated_at = utcnow()
        session.flush()
    return Planned(place.row, "update" if changes else "unchanged", place.name,
                   place.village.name, unit.id, tuple(changes))


def _update(unit: Unit, place: _Place, cipher: IdentityCipher) -> list[str]:
    """Write what the row knows and the unit does not have that way; the columns changed."""
    changes = []
    if place.ref and unit.name != place.name:
        unit.name, unit.normalized_name = place.name, register.normalize_name(place.name)
        changes.append("名称")
    if place.address and unit.address != place.address:
        unit.address = place.address
        changes.append("地址")
    if place.venue_type_id is not None and unit.venue_type_id != place.venue_type_id:
        unit.venue_type_id = place.venue_type_id
        changes.append("场所类型")
    if place.responsible and cipher.decrypt(unit.responsible_enc) != place.responsible:
        unit.responsible_enc = cipher.encrypt(place.responsible)
        changes.append("负责人")
    if place.contact and cipher.decrypt(unit.contact_enc) != place.contact:
        unit.contact_enc = cipher.encrypt(place.contact)
        changes.append("联系电话")
    if place.risk_level and unit.risk_level != place.risk_level:
        unit.risk_level = place.risk_level
        changes.append("风险等级")
    if place.lat is not None and (unit.lat, unit.lon) != (place.lat, place.lon):
        unit.lat, unit.lon = place.lat, place.lon
        changes.append("经纬度")
    if place.ref and unit.census_ref != place.ref:
        unit.census_ref = place.ref
        changes.append("编号")
    return changes


def units_in(session: Session, township_id: int) -> int:
    """How many live units the township's register holds (shown beside the import form)."""
    return session.scalar(select(func.count(Unit.id)).join(Unit.village).where(
        Village.township_id == township_id, register.live())) or 0
