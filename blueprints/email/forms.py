"""Browser forms (Flask-WTF, CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional


class SendEmailForm(FlaskForm):
    template_id = SelectField("Template", choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])
