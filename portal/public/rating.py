"""回访评价 through the one-time link an SMS carries (``/rate/<token>``); the tracking page's
own rating form is in ``track``.

The link page shows nothing of the report: only the three answers and a comment box. A wrong,
used or expired link gets one and the same message, so that a token cannot be probed.
"""

from __future__ import annotations

from flask import Response, make_response, render_template

from portal.db import get_session
from portal.domain.reporting import rating
from portal.extensions import csrf, limiter
from portal.identity import receipt_key
from portal.public import bp
from portal.public.track import RateForm, _track_limit, read_rating


def _private(response: Response) -> Response:
    # The token is in the address: never sent on as a referrer, never kept by a cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(form: RateForm, *, refused: str = "", errors: dict[str, str] | None = None,
          done: bool = False, status: int = 200) -> Response:
    return _private(make_response(render_template(
        "portal/rate.html", form=form, refused=refused, errors=errors or {}, done=done,
        comment_max=rating.COMMENT_MAX,
        link_days=rating.LINK_DAYS), status))


@bp.get("/rate/<token>")
@limiter.limit(_track_limit)
def rate(token: str) -> Response:
    db = get_session()
    link = rating.token_for(db, token, key=receipt_key())
    if link is None:
        return _page(RateForm(), refused=rating.LINK_REFUSED, status=404)
    why = rating.refusal(db, link.tip)
    if why is not None:
        return _page(RateForm(), refused=why, status=409)
    return _page(RateForm())


@bp.post("/rate/<token>")
@csrf.exempt  # checked by the form itself, with a Chinese message on the page
@limiter.limit(_track_limit)
def rate_submit(token: str) -> Response:
    form = RateForm()
    answer, errors = read_rating(form)
    if answer is None or errors:
        return _page(form, errors=errors, status=422)
    db = get_session()
    try:
        rating.rate_by_link(db, token, answer, form.comment.data or "", key=receipt_key())
    except rating.RatingRefused as exc:
        db.rollback()
        status = 404 if str(exc) == rating.LINK_REFUSED else 409
        return _page(form, refused=str(exc), status=status)
    db.commit()
    return _page(form, done=True)
