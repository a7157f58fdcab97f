"""Forms of the brand and topics settings page (CSRF from the hidden token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional


class BrandForm(FlaskForm):
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    logo_url = StringField("Logo URL (https)", validators=[Optional(), Length(max=2000)])
    primary_color = StringField("Main colour", validators=[Length(max=7)])
    accent_color = StringField("Accent colour", validators=[Length(max=7)])


class TopicForm(FlaskForm):
    name = StringField("Topic name", validators=[DataRequired(), Length(max=100)])
    description = StringField("Description", validators=[Optional(), Length(max=300)])


class DeleteForm(FlaskForm):
    """A bare CSRF-protected POST."""
