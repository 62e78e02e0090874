"""The photos residents sent with the tips behind a case: one definition of which of them
staff and the disclosure screens may use.

A photo a moderator withheld (and the original of one they blurred, which is withheld when
the blurred copy is made) is never among them: it stays with the moderators' own tip page.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from portal.domain.models import Attachment, Case, Tip


def tip_photos_query(case_id: int) -> Select[Any]:
    return _usable(Tip.case_id == case_id).order_by(Attachment.id)


def _usable(cases: ColumnElement[bool], *columns: Any) -> Select[Any]:
    """The usable tip photos (``columns`` first, then the photo) of the tips ``cases`` picks:
    not withheld, and not the original of a redacted copy."""
    derived = select(Attachment.derived_from_id).where(Attachment.derived_from_id.is_not(None))
    return (select(*columns, Attachment).join(Tip, Attachment.tip_id == Tip.id)
            .where(cases, Attachment.withheld.is_(False), Attachment.id.not_in(derived)))


def tip_photos(session: Session, case: Case) -> list[Attachment]:
    """The usable photos of the case's tips, oldest first."""
    return list(session.scalars(tip_photos_query(case.id)))


def tip_photos_of(session: Session, case_ids: Collection[int]) -> dict[int, list[Attachment]]:
    """``tip_photos`` of several cases in one query (a unit page shows all its cases)."""
    found: dict[int, list[Attachment]] = {}
    if case_ids:
        for case_id, photo in session.execute(
                _usable(Tip.case_id.in_(list(case_ids)), Tip.case_id)
                .order_by(Attachment.id)):
            found.setdefault(case_id, []).append(photo)
    return found


def is_tip_photo(session: Session, case: Case, attachment: Attachment) -> bool:
    return session.scalar(
        tip_photos_query(case.id).where(Attachment.id == attachment.id)) is not None
