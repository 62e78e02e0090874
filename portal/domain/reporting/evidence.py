"""The photos residents sent with the tips behind a case: one definition of which of them
staff and the disclosure screens may use.

A photo a moderator withheld (and the original of one they blurred, which is withheld when
the blurred copy is made) is never among them: it stays with the moderators' own tip page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.domain.models import Attachment, Case, Tip


def tip_photos_query(case_id: int) -> Select[Any]:
    derived = select(Attachment.derived_from_id).where(Attachment.derived_from_id.is_not(None))
    return (select(Attachment).join(Tip, Attachment.tip_id == Tip.id)
            .where(Tip.case_id == case_id, Attachment.withheld.is_(False),
                   Attachment.id.not_in(derived))
            .order_by(Attachment.id))


def tip_photos(session: Session, case: Case) -> list[Attachment]:
    """The usable photos of the case's tips, oldest first."""
    return list(session.scalars(tip_photos_query(case.id)))


def is_tip_photo(session: Session, case: Case, attachment: Attachment) -> bool:
    return session.scalar(
        tip_photos_query(case.id).where(Attachment.id == attachment.id)) is not None
