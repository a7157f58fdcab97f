"""Browser forms of the campaign pages (Flask-WTF: CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ComposeForm(FlaskForm):
    """One compose page for every channel: ``channel`` is chosen first and fixed."""

    channel = HiddenField()
    name = StringField("Campaign name", validators=[Optional(), Length(max=200)])
    list_id = SelectField(
        "Send to list", choices=[], validators=[DataRequired("Choose a list to send to.")]
    )
    template_id = SelectField("Template", choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])
    body = TextAreaField("Text message", validators=[Optional(), Length(max=2000)])
    scheduled_at = DateTimeLocalField(
        "Send at (leave empty to send when you confirm)",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
    )
    send_local_time = BooleanField("Send at this time in each recipient's own time zone")
    include_sunset = BooleanField("Include sunset customers (a re-permission campaign)")
    holdout_percent = IntegerField(
        "Hold back (% of the audience, 0 to 50) to measure lift",
        default=0,
        validators=[Optional(), NumberRange(0, 50, "Hold back 0 to 50%% of the audience.")],
    )


class ConfirmSendForm(FlaskForm):
    """The explicit confirmation: a tick naming the count, which must match the count
    the page showed (a list that grew since is reviewed again)."""

    count = HiddenField(validators=[DataRequired()])
    confirm = BooleanField("Send", validators=[DataRequired("Tick the box to confirm the send.")])


class ActionForm(FlaskForm):
    """A bare form: CSRF for buttons (pause, resume, duplicate, unschedule, test...)."""
