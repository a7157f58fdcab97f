"""Browser forms of the template pages (Flask-WTF, CSRF on each)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional


class TemplateForm(FlaskForm):
    """A new template or changes to one. An existing template's type is fixed: the page
    shows it read-only and the view drops this field (a disabled select is not posted)."""

    type = SelectField("Type", choices=[("email", "Email"), ("sms", "SMS")])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    html = TextAreaField("HTML", validators=[Optional(), Length(max=200_000)])
    body = TextAreaField("SMS body", validators=[Optional(), Length(max=2000)])
    #: an MJML template's code view edits its source (compiled on save)
    mjml = TextAreaField("MJML", validators=[Optional(), Length(max=200_000)])


class DesignerForm(FlaskForm):
    """The designer's save: the editor's MJML is put in ``mjml`` just before submitting."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    mjml = HiddenField("MJML", validators=[Optional(), Length(max=200_000)])


class TestSendForm(FlaskForm):
    """Send a test to me: rendered for the customer picked for the preview, if any."""

    customer_id = HiddenField(validators=[Optional(), Length(max=40)])


class ConfirmDeleteForm(FlaskForm):
    """The confirm step's button: a delete needs ``confirm=yes``, which only the
    confirmation page sends."""

    confirm = HiddenField(validators=[AnyOf(["yes"])])
