"""Flask-WTF forms of the settings and campaign pages (CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ConnectForm(FlaskForm):
    api_key = PasswordField("API key", validators=[DataRequired(), Length(max=200)])


class ActionForm(FlaskForm):
    """A bare button (disconnect, run now, send, pull report)."""


class SyncForm(FlaskForm):
    list_id = StringField("CRM list id", validators=[DataRequired(), Length(max=40)])
    audience_id = SelectField("Mailchimp audience", validators=[DataRequired()], choices=[])
    frequency_hours = IntegerField(
        "Sync every (hours, blank for manual)",
        validators=[Optional(), NumberRange(min=1, max=720)],
    )


class CampaignForm(FlaskForm):
    sync_id = SelectField("Synced list", validators=[DataRequired()], choices=[])
    template_id = SelectField("Template", validators=[DataRequired()], choices=[])
    send_now = BooleanField("Send now")


class ImportForm(FlaskForm):
    audience_id = SelectField("Mailchimp audience", validators=[DataRequired()], choices=[])
    list_id = SelectField("Into CRM list", validators=[DataRequired()], choices=[])
