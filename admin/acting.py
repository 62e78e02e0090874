"""The back office's one way to take a step: call the domain once, then either commit and
say so, or roll back and show the domain's refusal next to the form it belongs to.

    return act(lambda: listings.delist(db, found, actor=current_user, note=note),
               done="已摘牌。", then=url_for("admin.listing", listing_id=found.id),
               refused=lambda message, status: _render(found_again(), status, message))

``refused`` draws the page again with the message (it should load what it shows afresh: the
session was rolled back); the status is 409 when the case changed under the page (the
optimistic-lock refusal, ``CONFLICT_MESSAGE``), else 400. ``done`` and ``then`` may be
functions of what the step returned (the new row's id for the redirect, say). The redirect is
a 303; ``code=302`` keeps the screens that have always answered 302 as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect

from portal.db import get_session
from portal.domain.access.accounts import AccountError
from portal.domain.access.api_keys import ApiKeyError
from portal.domain.administration.vocabulary import VocabularyError
from portal.domain.casework.events import CONFLICT_MESSAGE, WorkflowError
from portal.domain.casework.sla import CalendarImportError
from portal.domain.reporting.uploads import UploadError
from portal.domain.vetting.moderation import CONFLICT_MESSAGE as TIP_CONFLICT_MESSAGE
from portal.domain.vetting.moderation import ModerationError

T = TypeVar("T")

# What the domain raises when it refuses a step, each with a message for the person acting.
REFUSALS: tuple[type[Exception], ...] = (
    WorkflowError, ModerationError, AccountError, ApiKeyError, VocabularyError, UploadError,
    CalendarImportError,
)


def refusal_status(message: str) -> int:
    # Someone else changed the case or tip since the page was drawn.
    return 409 if message.startswith((CONFLICT_MESSAGE, TIP_CONFLICT_MESSAGE)) else 400


def act(
    step: Callable[[], T],
    *,
    done: str | Callable[[T], str],
    then: str | Callable[[T], str],
    refused: Callable[[str, int], Any],
    refusals: tuple[type[Exception], ...] = REFUSALS,
    code: int = 303,
) -> Any:
    """Run ``step`` (one domain call); commit, flash ``done`` and redirect (``code``) to ``then``;
    or, if the domain refuses, roll back and answer ``refused(message, status)``."""
    db = get_session()
    try:
        result = step()
    except refusals as exc:
        db.rollback()
        message = str(exc)
        return refused(message, refusal_status(message))
    db.commit()
    flash(done(result) if callable(done) else done, "success")
    return redirect(then(result) if callable(then) else then, code)


def flash_back(message: str, target: str, code: int = 303) -> Any:
    """A refusal for a step taken from a list, not a form page: said, and back to the list."""
    flash(message, "error")
    return redirect(target, code)
