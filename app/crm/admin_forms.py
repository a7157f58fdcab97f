"""Flask-WTF forms of the territory and SKU admin pages (CSRF from the hidden token).

The forms check shape only; the catalogue service checks the rest (unique names and codes,
known time zones) and its refusals are put back beside these inputs."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class TerritoryForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    timezone = StringField("Time zone", default="UTC", validators=[Length(max=64)])
    external_id = StringField("External id", validators=[Optional(), Length(max=64)])


class SkuForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=40)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    producer = StringField("Producer", validators=[Optional(), Length(max=120)])
    varietal = StringField("Varietal", validators=[Optional(), Length(max=80)])
    vintage = IntegerField("Vintage", validators=[Optional(), NumberRange(1800, 2200)])
    region = StringField("Region", validators=[Optional(), Length(max=120)])
    price = DecimalField(
        "Unit price", places=2, validators=[InputRequired(), NumberRange(0, 99999999.99)]
    )
    special_price = DecimalField(
        "Special price (empty: not on special)",
        places=2,
        validators=[Optional(), NumberRange(0, 99999999.99)],
    )
    active = BooleanField("On sale", default=True)
    external_id = StringField("External id", validators=[Optional(), Length(max=64)])

    def data_for_service(self) -> dict[str, Any]:
        """The typed values in the catalogue service's names (blank text is none)."""
        return {
            name: (value.strip() or None) if isinstance(value, str) else value
            for name, value in self.data.items()
            if name != "csrf_token"
        }
