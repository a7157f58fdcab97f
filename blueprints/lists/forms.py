"""HTML forms of the lists pages (Flask-WTF, CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ListForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    smart = BooleanField("Smart list (members from criteria)")
    criteria = HiddenField("Criteria")
    topic_id = SelectField("Email topic", choices=[], validate_choice=False)
    sunset_policy = SelectField(
        "Sunset customers",
        choices=[
            ("default", "Skip them (the default rule)"),
            ("include", "Always include them"),
            ("custom", "Skip by this list's own rule"),
        ],
        default="default",
    )
    sunset_min_emails = IntegerField(
        "Emails without a reply", validators=[Optional(), NumberRange(min=1, max=1000)]
    )
    sunset_days = IntegerField(
        "Within (days)", validators=[Optional(), NumberRange(min=1, max=180)]
    )

    def sunset_policy_json(self) -> dict[str, object]:
        """The policy as the API takes it (``sunsetPolicy``)."""
        return {
            "mode": self.sunset_policy.data or "default",
            "minEmails": self.sunset_min_emails.data,
            "days": self.sunset_days.data,
        }


class MemberForm(FlaskForm):
    """Add one customer to a manual list by email address."""

    email = EmailField("Customer email", validators=[DataRequired(), Length(max=254)])


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired()])
    dry_run = BooleanField("Preview only (write nothing)", default=True)


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (refresh, delete)."""
