"""Flask-WTF forms of the customer page (CSRF comes from the hidden token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.messaging.consent import METHODS


class ConsentForm(FlaskForm):
    channel = SelectField("Channel", choices=[], validate_choice=False)
    status = SelectField("Consent", choices=[("opted_in", "Opted in"), ("opted_out", "Opted out")])
    method = SelectField(
        "How it was obtained",
        choices=[("", "—")] + [(m, m.replace("_", " ")) for m in METHODS],
        validate_choice=False,
    )
    wording = TextAreaField(
        "Wording the customer agreed to", validators=[Optional(), Length(max=2000)]
    )
    evidence = StringField(
        "Evidence (form number, call notes…)", validators=[Optional(), Length(max=2000)]
    )
    obtained_at = DateTimeLocalField(
        "Obtained at (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class ContactPreferencesForm(FlaskForm):
    start = StringField("From", validators=[Optional(), Length(max=5)])
    end = StringField("Until", validators=[Optional(), Length(max=5)])
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)])
