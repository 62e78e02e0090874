"""The villages a member of staff files tips and opens cases under: their township's, or for
county staff every township's. Village names repeat across townships, so ``village_label``
names a village with its township for whoever sees more than one. The forms offer
``village_choices``; the steps that write a village refuse any other (``may_file_in``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.domain.access.permissions import townships_of
from portal.domain.administration import townships
from portal.domain.models import User, Village

OUTSIDE_MESSAGE = "只能选择本乡镇的村"


def villages_for(session: Session, user: User) -> list[Village]:
    """The active villages ``user`` may file under, township by township."""
    return townships.villages_in(session, townships_of(user))


def village_label(village: Village, user: User) -> str:
    """The village as the user reads it: whoever sees more than one township (county staff,
    a department serving several) reads its township too."""
    seen = townships_of(user)
    if seen is None or len(seen) > 1:
        return townships.village_label(village.name, village.township.name)
    return village.name


def village_choices(session: Session, user: User) -> list[tuple[int, str]]:
    return townships.village_choices(session, townships_of(user))


def may_file_in(user: User, village: Village) -> bool:
    townships = townships_of(user)
    return townships is None or village.township_id in townships
