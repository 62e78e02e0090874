"""Searching the public disclosures by the words people type (issue 19), without a scan.

What a disclosed case can be found by is ``searchable_text``: its unit's name, where it is and
its public summary, exactly as the public pages show them (masked by ``mask_personal_data``; a
home's address is only its village, ``publication.public_location``), and nothing else: no
tip, no internal summary, no unmasked address. It is normalised by ``normalize`` (NFKC, so
full-width letters and digits are half-width; case folded; whitespace removed, since Chinese
has none between words and "乙 商" should find "乙商铺"), one field per line.

The index is an n-gram table the application keeps (``SearchGram``): every distinct character
and every pair of adjacent characters of a field, on an ordinary B-tree index, the same on
SQLite and PostgreSQL. pg_trgm and SQLite's trigram tokenizer cannot serve the two-character
words people type most (超市, 饭店), and the CJK-aware PostgreSQL extensions are not packaged
where this runs. A query of one character looks that character up; of two, its pair (both exact:
a gram is in a document exactly when the text is); longer, the posting of its rarest pair,
each candidate checked with the exact LIKE on its own document (``SearchDocument``). That
posting drives, in the public list's order (the index holds ``disclosed_at``), so a page
reads its rows and stops; the count stops at ``COUNT_CAP`` (shown as "200+").

The index is kept in the transaction of the change: a flush listener notes every case whose
disclosure or summary changed, every unit whose name, address, kind or village changed, and
every village or venue type renamed, and after the flush rewrites the affected cases' rows
(``reindex``). ``rebuild`` and ``differences`` serve ``flask --app wsgi search rebuild
[--check]``.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import Select, delete, event, func, insert, inspect, select, text
from sqlalchemy.orm import Session, aliased

from portal.domain import paging
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.models import Case, SearchDocument, SearchGram, Unit, VenueType, Village
from portal.domain.paging import Page

# Beyond this many matches the count says "200+": an exact count would read every posting,
# and each match counted costs a few index lookups, so a common word's count stays about a
# page's cost at any size of the county.
COUNT_CAP = 200
# How far each of a query's pairs is counted to choose the one to walk: first far enough to
# tell a rare pair from a common one (an index-only count, about half a millisecond each),
# then, for the pairs that reached it, far enough to tell two common ones apart.
RAREST_CAPS = (2_000, 50_000)
# A pair's counted posting is remembered by the process this long: the count only chooses
# which posting to walk (any choice finds the same matches), and postings grow slowly. An
# empty posting is never remembered, so a newly disclosed case is found at once.
SIZE_MEMO_SECONDS = 600.0
SIZE_MEMO_ENTRIES = 8192
_sizes: OrderedDict[tuple[str, int], tuple[float, int]] = OrderedDict()
_sizes_lock = threading.Lock()
FIELD_SEPARATOR = "\n"  # never inside a normalised field, so no match spans two fields
BATCH = 500
REBUILD_BATCH = 5000
_SPACE_RE = re.compile(r"\s+")
_PENDING = "portal.search.pending"

# What each kind of row contributes to a case's searchable text.
_WATCHED: dict[type, tuple[str, ...]] = {
    Case: ("disclosed", "disclosed_at", "confirmed_at", "public_summary", "unit_id", "unit"),
    Unit: ("name", "address", "venue_type_id", "venue_type", "village_id", "village"),
    Village: ("name",),
    VenueType: ("code", "name"),
}


def normalize(text: str) -> str:
    """The one normalisation of indexed text and of queries alike."""
    return _SPACE_RE.sub("", unicodedata.normalize("NFKC", text).casefold())


def searchable_text(case: Case) -> str:
    """What the public may find this case by, normalised, one field per line; '' when the case
    is not public."""
    from portal.domain.disclosure import publication  # which imports this module for its query

    if not publication.is_public(case):
        return ""
    unit = case.unit
    fields = (mask_personal_data(unit.name), publication.public_location(unit).address,
              mask_personal_data(case.public_summary))
    return FIELD_SEPARATOR.join(normalize(field) for field in fields)


def grams_of(text: str) -> set[str]:
    """Every character and every pair of adjacent characters of each line of ``text``."""
    grams: set[str] = set()
    for field in text.split(FIELD_SEPARATOR):
        grams.update(field)
        grams.update(field[i:i + 2] for i in range(len(field) - 1))
    return grams


def query_grams(needle: str) -> set[str]:
    """The grams a normalised query's matches all contain: itself if one character, else its
    pairs."""
    if len(needle) == 1:
        return {needle}
    return {needle[i:i + 2] for i in range(len(needle) - 1)}


def _like_pattern(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ------------------------------------------------------------------ the query


def _capped(condition: Any, cap: int) -> Any:
    """How many rows of grams match ``condition``, counting no further than ``cap``."""
    return (select(func.count()).select_from(
        select(SearchGram.case_id).where(condition).limit(cap).subquery()).scalar_subquery())


def _rarest(session: Session, grams: set[str]) -> str | None:
    """The gram with the shortest posting; None when one of them has none, so nothing can
    match. Each is counted up to the first of ``RAREST_CAPS`` (one query); those that reach
    it are counted again up to the next, so that two common pairs are told apart at a
    county's size too (at 2M cases 仓库 and 记仓 both pass 2,000 entries; walking the longer
    took seconds). A lone gram is not counted: it is walked whatever its size, and an empty
    posting walks at once. Counts come from ``_sizes`` while fresh (the search of a word
    people type again costs its walk, not its counts as well)."""
    candidates = sorted(grams)
    if len(candidates) == 1:
        return candidates[0]
    sizes: list[int] = []
    for cap in RAREST_CAPS:
        sizes = _posting_sizes(session, candidates, cap)
        if min(sizes) == 0:
            return None
        if min(sizes) < cap or sizes.count(cap) == 1:
            break
        candidates = [gram for gram, size in zip(candidates, sizes, strict=True) if size == cap]
        sizes = [cap] * len(candidates)
    return min(zip(sizes, candidates, strict=True))[1]


def _posting_sizes(session: Session, grams: list[str], cap: int) -> list[int]:
    """How many entries each of ``grams`` has, counted no further than ``cap``: those the
    process counted within ``SIZE_MEMO_SECONDS`` from memory, the others in one query."""
    now = time.monotonic()
    with _sizes_lock:
        known = {gram: hit[1] for gram in grams
                 if (hit := _sizes.get((gram, cap))) is not None
                 and now - hit[0] < SIZE_MEMO_SECONDS}
    missing = [gram for gram in grams if gram not in known]
    if missing:
        counted = session.execute(select(*[
            _capped(SearchGram.gram == gram, cap).label(f"n{i}")
            for i, gram in enumerate(missing)])).one()
        with _sizes_lock:
            for gram, size in zip(missing, counted, strict=True):
                known[gram] = size
                if size:
                    _sizes[(gram, cap)] = (now, size)
                    _sizes.move_to_end((gram, cap))
            while len(_sizes) > SIZE_MEMO_ENTRIES:
                _sizes.popitem(last=False)
    return [known[gram] for gram in grams]


def forget_sizes() -> None:
    """Drop the remembered posting sizes (tests, and a rebuilt index)."""
    with _sizes_lock:
        _sizes.clear()


def _holds(query: Select) -> Any:
    """Whether ``query`` (a select of one column) has a row: a subquery asked once per row of
    the outer query. Written as a scalar subquery with LIMIT so that the database probes it
    row by row in the posting's order and stops at the page, rather than joining whole
    tables first (PostgreSQL did: it hashed every disclosed case, 51 ms for a page of a
    four-character word at 100k cases, 1 ms this way)."""
    return query.limit(1).scalar_subquery().is_not(None)


def page_of_matches(session: Session, query: Select | None, text: str, *,
                    page: str | int | None, size: int) -> Page[int]:
    """One page of the case ids of ``query`` (a select of ``Case.id``, already filtered to
    public cases; None: every public case, which the index holds and no other) whose
    searchable text contains ``text``, newest disclosure first. The page is exact; the total
    stops at ``COUNT_CAP + 1``."""
    needle = normalize(text)
    grams = query_grams(needle)
    driver = _rarest(session, grams) if grams else None
    if driver is None:
        return Page([], 0, 1, size)
    posting = aliased(SearchGram)
    # The driver's posting, walked in the list's order; each entry checked by primary key.
    conditions = [posting.gram == driver]
    if len(needle) > 2:
        # The document's own text decides (pairs in it do not mean the pairs in a row), and is
        # asked first: most entries of a longer word's posting fail here. The other grams'
        # postings are not asked: they add lookups and no certainty.
        conditions.append(_holds(select(SearchDocument.case_id).where(
            SearchDocument.case_id == posting.case_id,
            SearchDocument.text.like(_like_pattern(needle), escape="\\"))))
    if query is not None:
        conditions.append(_holds(query.where(Case.id == posting.case_id)))
    matching = select(posting.case_id).where(*conditions)
    return capped_page(session, matching.order_by(posting.disclosed_at.desc(),
                                                  posting.case_id.desc()),
                       page=page, size=size)


def capped_page(session: Session, query: Select, *, page: str | int | None,
                size: int) -> Page[Any]:
    """One page of ``query`` (ordered, one column), counted no further than needed: past
    ``COUNT_CAP`` (then shown as "200+"), or one row past the end of the page asked for,
    whichever is further, so that a later page is still reachable.

    Within the cap it is one walk: the first ``COUNT_CAP + 1`` rows in the list's order, cut
    to the page here, instead of a count and then the page, which walked the same entries
    twice (each entry of a search's posting costs a lookup or two). A page past the cap is
    counted up to its end and then read, so that no page holds more than the cap in memory."""
    number = paging.page_number(page)
    if number * size <= COUNT_CAP:
        rows = list(session.scalars(query.limit(COUNT_CAP + 1)))
        number = min(number, paging.page_count(len(rows), size))
        return Page(rows[(number - 1) * size:number * size], len(rows), number, size)
    total = session.scalar(select(func.count()).select_from(
        query.order_by(None).limit(number * size + 1).subquery())) or 0
    return paging.paginate(session, query, page=number, size=size, total=total)


def is_capped(total: int) -> bool:
    return total > COUNT_CAP


# ------------------------------------------------------------------ keeping the index


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _note(session: Session, _context: Any) -> None:
    """Note what the flush changed (attribute history is still there); rewritten below."""
    pending: dict[type, set[int]] = session.info.setdefault(_PENDING, {})
    for obj in chain(session.new, session.dirty):
        names = _WATCHED.get(type(obj))
        if names is None:
            continue
        if isinstance(obj, Case):
            # Only a disclosed case has rows, and only a disclosed one gets them.
            relevant = obj.disclosed or inspect(obj).attrs.disclosed.history.has_changes()
            if not relevant or (obj not in session.new and not _changed(obj, names)):
                continue
        elif obj in session.new or not _changed(obj, names):
            continue  # nothing public points at a new unit, village or venue type yet
        pending.setdefault(type(obj), set()).add(obj.id)


@event.listens_for(Session, "after_flush_postexec")
def _rewrite(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    case_ids = set(pending.get(Case, ()))
    affected = [Unit.id.in_(sorted(ids)) for ids in [pending.get(Unit)] if ids]
    affected += [Unit.village_id.in_(sorted(ids)) for ids in [pending.get(Village)] if ids]
    affected += [Unit.venue_type_id.in_(sorted(ids)) for ids in [pending.get(VenueType)] if ids]
    for condition in affected:
        case_ids.update(session.scalars(
            select(Case.id).join(Unit, Case.unit_id == Unit.id)
            .where(condition, Case.disclosed.is_(True))))
    if case_ids:
        reindex(session, case_ids)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start:start + BATCH]


def _public_cases(session: Session, ids: list[int]) -> list[Case]:
    from portal.domain.disclosure import publication

    return list(session.scalars(publication.with_public_relations(
        select(Case).where(Case.id.in_(ids), publication.public_condition()))))


def _rows(cases: Iterable[Case]) -> tuple[list[tuple[int, str]], list[tuple[int, str, Any]]]:
    """The (case, text) documents and (case, gram, disclosed) rows of these cases (none for a
    case that is not public)."""
    documents: list[tuple[int, str]] = []
    grams: list[tuple[int, str, Any]] = []
    for case in cases:
        text = searchable_text(case)
        if not text:
            continue
        documents.append((case.id, text))
        grams += [(case.id, gram, case.disclosed_at) for gram in sorted(grams_of(text))]
    return documents, grams


def _write(session: Session, cases: Iterable[Case]) -> int:
    documents, grams = _rows(cases)
    conn = session.connection()
    if documents:
        conn.execute(insert(SearchDocument), [
            {"case_id": case_id, "text": text} for case_id, text in documents])
    if grams:
        conn.execute(insert(SearchGram), [
            {"case_id": case_id, "gram": gram, "disclosed_at": at}
            for case_id, gram, at in grams])
    return len(documents)


def _copy(session: Session, cases: Iterable[Case]) -> int:
    """``_write`` through PostgreSQL's COPY, in the session's transaction: a county's index is
    about a hundred gram rows per disclosed case, which INSERT statements take hours over."""
    documents, grams = _rows(cases)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    for sql, rows in (("COPY search_documents (case_id, text) FROM STDIN", documents),
                      ("COPY search_grams (case_id, gram, disclosed_at) FROM STDIN", grams)):
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    return len(documents)


def reindex(session: Session, case_ids: Iterable[int]) -> None:
    """Rewrite these cases' documents and grams from what they show now (none if not public)."""
    conn = session.connection()
    for chunk in _chunks(case_ids):
        conn.execute(delete(SearchGram).where(SearchGram.case_id.in_(chunk)))
        conn.execute(delete(SearchDocument).where(SearchDocument.case_id.in_(chunk)))
        _write(session, _public_cases(session, chunk))


def _disclosed_ids(session: Session, batch: int = BATCH) -> Iterator[list[int]]:
    last = 0
    while True:
        ids = list(session.scalars(select(Case.id).where(Case.disclosed.is_(True), Case.id > last)
                                   .order_by(Case.id).limit(batch)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def rebuild(session: Session) -> int:
    """Rebuild the whole index from the disclosed cases; returns how many are indexed. On
    PostgreSQL the rows go in by COPY and the gram index is built once at the end, not entry
    by entry (the tables are locked until the transaction ends: searches wait meanwhile)."""
    conn = session.connection()
    conn.execute(delete(SearchGram))
    conn.execute(delete(SearchDocument))
    bulk = conn.dialect.name == "postgresql"
    table = SearchGram.metadata.tables[SearchGram.__tablename__]
    secondary = sorted(table.indexes, key=lambda index: str(index.name)) if bulk else []
    for index in secondary:
        index.drop(conn)
    written = 0
    for ids in _disclosed_ids(session, REBUILD_BATCH if bulk else BATCH):
        cases = _public_cases(session, ids)
        written += _copy(session, cases) if bulk else _write(session, cases)
    for index in secondary:
        index.create(conn)
    if bulk:
        # The planner's statistics still describe the old rows (or none): without them it
        # walked a common pair's whole posting for a rare word, seconds per search.
        conn.execute(text("ANALYZE search_grams, search_documents"))
    forget_sizes()
    return written


@dataclass(frozen=True)
class Difference:
    case_id: int
    reason: str


def differences(session: Session) -> list[Difference]:
    """Every case whose stored index differs from what it shows now; empty when exact."""
    wrong: list[Difference] = []
    stored_ids = set(session.scalars(select(SearchDocument.case_id)))
    for ids in _disclosed_ids(session):
        texts: dict[int, str] = {case_id: text for case_id, text in session.execute(
            select(SearchDocument.case_id, SearchDocument.text)
            .where(SearchDocument.case_id.in_(ids)))}
        rows: dict[int, set[tuple[str, Any]]] = {}
        for case_id, gram, at in session.execute(
                select(SearchGram.case_id, SearchGram.gram, SearchGram.disclosed_at)
                .where(SearchGram.case_id.in_(ids))):
            rows.setdefault(case_id, set()).add((gram, at))
        for case in _public_cases(session, ids):
            stored_ids.discard(case.id)
            text = searchable_text(case)
            if texts.get(case.id) != text:
                wrong.append(Difference(case.id, "document"))
            elif rows.get(case.id, set()) != {(g, case.disclosed_at) for g in grams_of(text)}:
                wrong.append(Difference(case.id, "grams"))
    orphans = stored_ids | (set(session.scalars(select(SearchGram.case_id).distinct()))
                            - set(session.scalars(select(Case.id).where(Case.disclosed.is_(True)))))
    wrong += [Difference(case_id, "not public") for case_id in sorted(orphans)]
    return wrong
