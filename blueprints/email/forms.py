"""Browser forms (Flask-WTF, CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class SendEmailForm(FlaskForm):
    template_id = SelectField("Template", choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])


class ActionForm(FlaskForm):
    """A bare form: CSRF for buttons (pause, resume, cancel, delete)."""


class CampaignForm(FlaskForm):
    name = StringField("Campaign name", validators=[Optional(), Length(max=200)])
    list_id = SelectField(
        "Send to list", choices=[], validators=[DataRequired("Choose a list to send to.")]
    )
    template_id = SelectField("Template", choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])
    scheduled_at = DateTimeLocalField(
        "Send at (UTC, leave empty to send now)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
