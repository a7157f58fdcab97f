"""Browser forms (Flask-WTF, CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional


class SendEmailForm(FlaskForm):
    template_id = SelectField("Template", choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])


class TemplateForm(FlaskForm):
    """A new template or changes to one. An existing template's type is fixed: the page
    shows it read-only and the view drops this field (a disabled select is not posted)."""

    type = SelectField("Type", choices=[("email", "Email"), ("sms", "SMS")])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("HTML", validators=[Optional(), Length(max=200_000)])
    body = TextAreaField("SMS body", validators=[Optional(), Length(max=2000)])


class ConfirmDeleteForm(FlaskForm):
    """The confirm step's button: a delete needs ``confirm=yes``, which only the
    confirmation page sends."""

    confirm = HiddenField(validators=[AnyOf(["yes"])])
