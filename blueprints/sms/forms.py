"""Flask-WTF forms of the SMS pages (CSRF comes from the hidden token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from blueprints.sms.schemas import MAX_BODY_CHARS


class ReplyForm(FlaskForm):
    body = TextAreaField("Message", validators=[Length(max=MAX_BODY_CHARS * 2)])


class SendForm(FlaskForm):
    body = TextAreaField("Message", validators=[Optional(), Length(max=MAX_BODY_CHARS * 2)])
    template_id = SelectField("Template", choices=[], validate_choice=False)
    media_url = StringField("Image URL (MMS)", validators=[Optional(), Length(max=2000)])


class ReviewForm(FlaskForm):
    """A person's decision on a text flagged as a possible opt-out."""

    decision = StringField(
        "Decision", validators=[DataRequired(), AnyOf(("opt_out", "not_opt_out"))]
    )


class AssignForm(FlaskForm):
    """Who answers a thread (a user's public id; empty: nobody)."""

    user_id = StringField("Assigned to", validators=[Optional(), Length(max=40)])


class LinkForm(FlaskForm):
    """Link an unknown number's thread to a customer."""

    customer_id = StringField("Customer", validators=[DataRequired(), Length(max=40)])
    use_as_phone = BooleanField("Also make this number the customer's phone")


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (mark unread)."""
