"""Browser forms of the campaign pages (Flask-WTF: CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.experiments import campaigns as ab_tests

#: winnerBy -> its label (a channel's page offers its own: email clicks and opens, SMS
#: replies; revenue for both)
WINNER_LABELS = (
    ("humanClickRate", "Human click rate"),
    ("humanOpenRate", "Human open rate"),
    ("replyRate", "Reply rate"),
    ("revenuePerRecipient", "Revenue per recipient"),
)


class VariantForm(Form):
    """One A/B variant's fieldset: what it changes (empty: the campaign's own)."""

    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("Message (HTML)", validators=[Optional(), Length(max=200_000)])
    body = TextAreaField("Text message", validators=[Optional(), Length(max=2000)])
    from_name = StringField("Sender name", validators=[Optional(), Length(max=100)])
    send_delay_minutes = IntegerField(
        "Send later by (minutes)",
        validators=[Optional(), NumberRange(0, ab_tests.MAX_DELAY_MINUTES)],
    )


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
    ab_enabled = BooleanField("A/B test this campaign")
    ab_variant_count = SelectField(
        "Variants", choices=[("2", "2"), ("3", "3"), ("4", "4")], default="2"
    )
    variants = FieldList(FormField(VariantForm), min_entries=4, max_entries=4)
    test_share = IntegerField(
        "Test share (% of the audience)",
        default=round(ab_tests.DEFAULT_TEST_SHARE * 100),
        validators=[Optional(), NumberRange(1, 100)],
    )
    wait_minutes = IntegerField(
        "Wait before choosing the winner (minutes)",
        default=ab_tests.DEFAULT_WAIT_MINUTES,
        validators=[Optional(), NumberRange(1, ab_tests.MAX_WAIT_MINUTES)],
    )
    winner_by = SelectField(
        "Winner by",
        choices=list(WINNER_LABELS),
        default=ab_tests.DEFAULT_WINNER_BY,
    )
    fallback_variant = SelectField(
        "Fallback when no winner is clear",
        choices=[(name, name) for name in ab_tests.NAMES],
        default=ab_tests.NAMES[0],
    )


class ConfirmSendForm(FlaskForm):
    """The explicit confirmation: a tick naming the count, which must match the count
    the page showed (a list that grew since is reviewed again)."""

    count = HiddenField(validators=[DataRequired()])
    confirm = BooleanField("Send", validators=[DataRequired("Tick the box to confirm the send.")])


class ActionForm(FlaskForm):
    """A bare form: CSRF for buttons (pause, resume, duplicate, unschedule, test...)."""
