"""What a flow's trigger and steps may say, checked on save and again on activation.

Steps are plain JSON (camelCase, as the API speaks): ``{"key", "type", ...}``. Structure
errors are refused on save; missing content (a send step without its template, a task
without a title) is allowed in a draft and refused on activation, naming the field.
Branch targets point forward only, so a run visits each step at most once (its
execution is unique per run and step key).
"""

from __future__ import annotations

import re
from typing import Any

from app.errors import Invalid
from app.flows.dates import BUILTIN as BUILTIN_DATES

TRIGGERS = (
    "manual",
    "list_joined",
    "order_placed",
    "no_order",
    "clicked",
    "sms_reply",
    "score_reached",
    "date_field",
)
STEP_TYPES = (
    "email", "sms", "wait", "branch", "task", "tag", "field", "list_add", "list_remove", "exit",
)  # fmt: skip
SEND_TYPES = ("email", "sms")
CONDITIONS = ("clicked", "replied", "ordered", "field")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: customer columns a branch may test besides custom fields
CUSTOMER_FIELDS = ("account_type", "account_priority", "engagement_state")
KEY = re.compile(r"^[a-z0-9_-]{1,40}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_STEPS = 50


def check_trigger(trigger_type: str, config: dict[str, Any]) -> dict[str, Any]:
    if trigger_type not in TRIGGERS:
        raise Invalid("unknown trigger", {"trigger": f"one of {', '.join(TRIGGERS)}"})
    out: dict[str, Any] = {}
    if trigger_type == "list_joined":
        out["listId"] = str(config.get("listId") or "").strip()
        if not out["listId"]:
            raise Invalid("which list?", {"trigger.listId": "name the list to watch"})
    elif trigger_type == "no_order":
        days = config.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise Invalid("how many days?", {"trigger.days": "a whole number of days, 1-3650"})
        out["days"] = days
    elif trigger_type == "score_reached":
        threshold = config.get("threshold")
        if (
            not isinstance(threshold, int)
            or isinstance(threshold, bool)
            or not 1 <= threshold <= 100
        ):
            raise Invalid("which score?", {"trigger.threshold": "a whole engagement score, 1-100"})
        out["threshold"] = threshold
    elif trigger_type == "date_field":
        name = str(config.get("field") or "").strip()
        if name not in BUILTIN_DATES and not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
            raise Invalid(
                "which date?",
                {"trigger.field": f"one of {', '.join(BUILTIN_DATES)} or a custom field's key"},
            )
        yearly = config.get("yearly", True)
        if not isinstance(yearly, bool):
            raise Invalid("yearly?", {"trigger.yearly": "true (every year) or false (once)"})
        offset = config.get("offsetDays", 0)
        if not isinstance(offset, int) or isinstance(offset, bool) or not -365 <= offset <= 365:
            raise Invalid(
                "how many days?",
                {"trigger.offsetDays": "whole days, -365 (before) to 365 (after)"},
            )
        out.update(field=name, offsetDays=offset, yearly=yearly)
    elif trigger_type == "clicked":
        if config.get("campaignId"):
            out["campaignId"] = str(config["campaignId"])
    elif trigger_type == "sms_reply":
        keyword = str(config.get("keyword") or "").strip().upper()
        if keyword and not re.fullmatch(r"[A-Z0-9]{1,20}", keyword):
            raise Invalid("bad keyword", {"trigger.keyword": "one word, letters and digits"})
        if keyword:
            out["keyword"] = keyword
    return out


def normalise(steps: Any) -> list[dict[str, Any]]:
    """Steps with keys given (``s1``, ``s2``... where missing) and their structure checked."""
    if not isinstance(steps, list):
        raise Invalid("steps must be a list", {"steps": "a list of steps"})
    if len(steps) > MAX_STEPS:
        raise Invalid("too many steps", {"steps": f"at most {MAX_STEPS} steps"})
    taken = {s.get("key") for s in steps if isinstance(s, dict)}
    counter = 0
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(raw, dict):
            raise Invalid("a step is an object", {where: "a step is an object"})
        step = {k: v for k, v in raw.items() if v is not None}
        if step.get("type") not in STEP_TYPES:
            raise Invalid("unknown step type", {f"{where}.type": f"one of {', '.join(STEP_TYPES)}"})
        if not step.get("key"):
            counter += 1
            while f"s{counter}" in taken:
                counter += 1
            step["key"] = f"s{counter}"
            taken.add(step["key"])
        if not isinstance(step["key"], str) or not KEY.match(step["key"]):
            raise Invalid("bad key", {f"{where}.key": "lower-case letters, digits, - and _"})
        _check_shape(step, where)
        out.append(step)
    keys = [s["key"] for s in out]
    if len(set(keys)) != len(keys):
        raise Invalid("duplicate keys", {"steps": "each step needs its own key"})
    for i, step in enumerate(out):
        for name in ("then", "else"):
            target = step.get(name)
            if target is None or target in ("next", "exit"):
                continue
            if target not in keys[i + 1 :]:
                raise Invalid(
                    "branches go forward",
                    {f"steps[{i}].{name}": "a later step's key, next or exit"},
                )
    return out


def _check_shape(step: dict[str, Any], where: str) -> None:
    kind = step["type"]
    if kind == "wait":
        until = step.get("until")
        if until is not None:
            if not isinstance(until, dict):
                raise Invalid("bad wait", {f"{where}.until": "{weekday, time}"})
            if until.get("weekday") not in WEEKDAYS:
                raise Invalid("bad weekday", {f"{where}.until.weekday": "mon ... sun"})
            if not TIME.match(str(until.get("time") or "")):
                raise Invalid("bad time", {f"{where}.until.time": "HH:MM, 24-hour"})
        else:
            for unit in ("days", "hours", "minutes"):
                value = step.get(unit, 0)
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
                    raise Invalid("bad duration", {f"{where}.{unit}": "a whole number, 0-1000"})
    elif kind == "branch":
        condition = step.get("condition")
        if not isinstance(condition, dict) or condition.get("kind") not in CONDITIONS:
            raise Invalid(
                "bad condition", {f"{where}.condition.kind": f"one of {', '.join(CONDITIONS)}"}
            )
    elif kind == "task":
        days = step.get("dueInDays", 0)
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
            raise Invalid("bad due day", {f"{where}.dueInDays": "a whole number, 0-365"})


def missing_content(steps: list[dict[str, Any]]) -> dict[str, str]:
    """The fields a flow needs before it may run, by name (empty when complete)."""
    missing: dict[str, str] = {}
    for i, step in enumerate(steps):
        where, kind = f"steps[{i}]", step["type"]
        if kind in SEND_TYPES and not step.get("templateId"):
            missing[f"{where}.templateId"] = f"choose the {kind} template to send"
        elif kind == "task" and not str(step.get("title") or "").strip():
            missing[f"{where}.title"] = "say what the rep should do"
        elif kind == "tag" and not str(step.get("tag") or "").strip():
            missing[f"{where}.tag"] = "name the tag"
        elif kind == "field" and not str(step.get("field") or "").strip():
            missing[f"{where}.field"] = "name the field to set"
        elif kind in ("list_add", "list_remove") and not step.get("listId"):
            missing[f"{where}.listId"] = "choose the list"
        elif kind == "branch":
            condition = step.get("condition") or {}
            if condition.get("kind") == "field" and not condition.get("field"):
                missing[f"{where}.condition.field"] = "name the field to test"
        elif (
            kind == "wait"
            and step.get("until") is None
            and not any(step.get(u) for u in ("days", "hours", "minutes"))
        ):
            missing[f"{where}.days"] = "wait how long?"
    if not steps:
        missing["steps"] = "add at least one step"
    return missing


def loop_fields(
    trigger_type: str, config: dict[str, Any], steps: list[dict[str, Any]]
) -> dict[str, str]:
    """Steps that would set off the flow's own trigger (a flow entered on joining list L
    that adds to list L), by field."""
    found: dict[str, str] = {}
    if trigger_type == "list_joined":
        for i, step in enumerate(steps):
            if step["type"] == "list_add" and step.get("listId") == config.get("listId"):
                found[f"steps[{i}].listId"] = (
                    "adding to the list that starts this flow would start it again"
                )
    return found
