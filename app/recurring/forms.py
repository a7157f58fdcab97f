"""Browser forms of the recurring campaign pages (Flask-WTF: CSRF on each)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

CUSTOM = "custom"
#: (RRULE, label) of the rules a manager picks from; "custom" reads the typed RRULE
PRESETS: tuple[tuple[str, str], ...] = (
    ("FREQ=WEEKLY;BYDAY=MO", "Every Monday"),
    ("FREQ=WEEKLY;BYDAY=TU", "Every Tuesday"),
    ("FREQ=WEEKLY;BYDAY=WE", "Every Wednesday"),
    ("FREQ=WEEKLY;BYDAY=TH", "Every Thursday"),
    ("FREQ=WEEKLY;BYDAY=FR", "Every Friday"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "Every other Tuesday"),
    ("FREQ=MONTHLY;BYDAY=1MO", "First Monday of the month"),
    ("FREQ=MONTHLY;BYDAY=1TU", "First Tuesday of the month"),
    ("FREQ=MONTHLY;BYMONTHDAY=1", "The 1st of every month"),
    ("FREQ=DAILY", "Every day"),
    (CUSTOM, "Custom rule (RRULE)…"),
)
FEATURED_RULES = (
    ("", "No featured wines"),
    ("newest", "The newest wines"),
    ("on_special", "Wines on special"),
    ("varietal", "One varietal"),
)


def describe(rule: str) -> str:
    """A preset's words, or the RRULE itself."""
    return dict(PRESETS).get(rule, rule)


class RecurringForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give it a name."), Length(max=200)])
    channel = SelectField("Channel", choices=[])
    list_id = SelectField(
        "Send to list", choices=[], validators=[DataRequired("Choose a list to send to.")]
    )
    template_id = SelectField("Template", choices=[], validate_choice=False)
    subject = StringField("Subject (email)", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (email HTML)", validators=[Optional(), Length(max=200_000)])
    body = TextAreaField("Text message (SMS)", validators=[Optional(), Length(max=2000)])
    preset = SelectField("Repeat", choices=[], default="FREQ=WEEKLY;BYDAY=TU")
    rule = StringField("Custom RRULE", validators=[Optional(), Length(max=500)])
    start_date = DateField("Starting from", validators=[DataRequired("Give a first date.")])
    time_of_day = TimeField("At", validators=[DataRequired("Give a time of day.")])
    time_zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    send_local_time = BooleanField("At this time in each recipient's own time zone")
    featured_rule = SelectField("Featured wines", choices=[], default="")
    featured_count = IntegerField(
        "How many wines", default=3, validators=[Optional(), NumberRange(min=1, max=12)]
    )
    featured_varietal = StringField("Varietal", validators=[Optional(), Length(max=80)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.preset.choices = list(PRESETS)
        self.featured_rule.choices = list(FEATURED_RULES)

    def chosen_rule(self) -> str:
        return (self.rule.data or "").strip() if self.preset.data == CUSTOM else self.preset.data


class OccurrenceForm(FlaskForm):
    """One occurrence's own subject and content (empty: the usual)."""

    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])
    body = TextAreaField("Text message", validators=[Optional(), Length(max=2000)])


class ActionForm(FlaskForm):
    """A bare form: CSRF for buttons (pause, resume, skip, delete)."""
