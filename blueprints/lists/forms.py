"""HTML forms of the lists pages (Flask-WTF, CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional


class ListForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    smart = BooleanField("Smart list (members from criteria)")
    criteria = HiddenField("Criteria")
    topic_id = SelectField("Email topic", choices=[], validate_choice=False)


class MemberForm(FlaskForm):
    """Add one customer to a manual list by email address."""

    email = EmailField("Customer email", validators=[DataRequired(), Length(max=254)])


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired()])
    dry_run = BooleanField("Preview only (write nothing)", default=True)


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (refresh, delete)."""
