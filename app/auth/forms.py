from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in")


class LogoutForm(FlaskForm):
    """Empty form: logging out is a POST carrying a CSRF token."""


ROLE_CHOICES = [("rep", "Rep"), ("manager", "Manager"), ("admin", "Admin")]


class UserEditForm(FlaskForm):
    """An admin changes a user's name, role or territory (choices set by the view)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    territory = SelectField("Territory", choices=[], validate_choice=True)


class UserCreateForm(UserEditForm):
    """A new user gets no password here: the page shows them a one-time invite link."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class AccountForm(FlaskForm):
    """A user's own settings: the time zone times are shown and typed in, a mobile
    number for test texts."""

    time_zone = SelectField("Time zone", choices=[])
    phone = StringField("Mobile number (for test texts)", validators=[Length(max=20)])
