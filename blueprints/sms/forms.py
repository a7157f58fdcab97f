"""Flask-WTF forms of the SMS pages (CSRF comes from the hidden token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from blueprints.sms.schemas import MAX_BODY_CHARS


class ReplyForm(FlaskForm):
    body = TextAreaField("Message", validators=[Length(max=MAX_BODY_CHARS * 2)])


class SendForm(FlaskForm):
    body = TextAreaField("Message", validators=[Optional(), Length(max=MAX_BODY_CHARS * 2)])
    template_id = SelectField("Template", choices=[], validate_choice=False)
    media_url = StringField("Image URL (MMS)", validators=[Optional(), Length(max=2000)])
