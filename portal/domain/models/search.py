"""The search index of the public disclosures, kept by ``portal.domain.disclosure.search`` in the
same transaction as every change to what a disclosed case shows (issue 19).

A disclosed case has one ``SearchDocument`` (its public text, normalised) and one
``SearchGram`` per distinct character and pair of adjacent characters in it. A search looks
its words' grams up on the (gram, disclosed_at, case_id) index, newest disclosure first, and
checks the few candidates with an exact LIKE on their document; a case that is not public has
no rows at all.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models.base import Base


class SearchDocument(Base):
    """A disclosed case's searchable text: its fields normalised, one per line."""

    __tablename__ = "search_documents"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class SearchGram(Base):
    """One character or character pair of a disclosed case's document. ``disclosed_at`` is the
    case's, so that a posting list is read in the public list's order and a page stops after
    its rows."""

    __tablename__ = "search_grams"
    __table_args__ = (Index(None, "gram", "disclosed_at", "case_id"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True)
    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    disclosed_at: Mapped[dt.datetime]
