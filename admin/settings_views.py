"""Security settings kept in the database (not deployment configuration)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import bp
from admin.access import client_ip, require
from admin.forms import SecuritySettingsForm
from portal.db import get_session
from portal.domain.access import auth
from portal.domain.access.permissions import Permission, manages


@bp.route("/settings", methods=["GET", "POST"])
@require(Permission.SETTINGS_MANAGE)
def settings():
    db = get_session()
    # The deployment's settings, for every township: the county admin's to change.
    editable = manages(current_user, None)
    if request.method == "POST" and not editable:
        abort(403)
    form = SecuritySettingsForm(require_2fa=auth.two_factor_policy(db))
    if form.validate_on_submit():
        auth.set_two_factor_policy(db, form.require_2fa.data, actor=current_user,
                                   ip=client_ip())
        db.commit()
        flash("设置已保存。", "success")
        return redirect(url_for("admin.settings"))
    return render_template("admin/settings.html", form=form, editable=editable)
