"""Which moderation actions an actor may take on a tip now, and why not the others.

The answers come from the actions' own preconditions (``moderation.check_*``), so a page that
draws its forms from ``tip_actions`` offers exactly what the actions accept, and shows the
very refusal the action would raise. The tip's counterpart of
``portal.domain.casework.actions.case_actions``, with the same ``name``, ``label`` and
``reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from portal.domain.enums import LabeledEnum
from portal.domain.models import Attachment, Case, Tip, User
from portal.domain.vetting import moderation


class TipAction(LabeledEnum):
    ACCEPT = "accept", "受理并立案"
    MERGE = "merge", "合并到已有工单"
    REJECT = "reject", "不予受理"
    ASK = "ask", "向举报人提问"
    REDACT = "redact", "修改举报内容"
    WITHHOLD = "withhold", "撤下此照片"
    BLUR = "blur", "模糊处理"
    REVEAL = "reveal", "查看举报人身份"


PHOTO_ACTIONS = (TipAction.WITHHOLD, TipAction.BLUR)


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    # Why the actor may not take it now, the action's own Chinese refusal; empty if they may.
    reason: str = ""
    # The photo, for the photo actions.
    attachment_id: int | None = None

    @property
    def allowed(self) -> bool:
        return not self.reason

    @property
    def key(self) -> str:
        """``"accept"``, or ``"withhold:12"`` for a photo action: how a page looks it up."""
        return self.name if self.attachment_id is None else f"{self.name}:{self.attachment_id}"


def _answer(kind: TipAction, check: Callable[[], None], attachment_id: int | None = None) -> Action:
    try:
        check()
    except moderation.ModerationError as exc:
        return Action(kind.value, kind.label, str(exc), attachment_id)
    return Action(kind.value, kind.label, "", attachment_id)


def tip_actions(tip: Tip, actor: User, *, into: Case | None = None) -> list[Action]:
    """Every action on the tip and on each of its photos, allowed or with its refusal.

    Merging is answered for ``into`` if given, else for any open case (the candidates a page
    lists are open cases).
    """
    found = [
        _answer(TipAction.ACCEPT, lambda: moderation.check_accept(tip, actor)),
        _answer(TipAction.MERGE, lambda: moderation.check_merge(tip, actor, into)),
        _answer(TipAction.REJECT, lambda: moderation.check_reject(tip, actor)),
        _answer(TipAction.ASK, lambda: moderation.check_ask(tip, actor)),
        _answer(TipAction.REDACT, lambda: moderation.check_redact(tip, actor)),
        _answer(TipAction.REVEAL, lambda: moderation.check_reveal(tip, actor)),
    ]
    for photo in tip.attachments:
        found.extend(photo_actions(photo, actor))
    return found


def photo_actions(photo: Attachment, actor: User) -> list[Action]:
    return [
        _answer(TipAction.WITHHOLD, lambda: moderation.check_withhold(photo, actor), photo.id),
        _answer(TipAction.BLUR, lambda: moderation.check_blur(photo, actor), photo.id),
    ]


def by_key(actions: Iterable[Action]) -> dict[str, Action]:
    return {a.key: a for a in actions}
