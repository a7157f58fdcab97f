"""Field paths of the smart-list form in the words the person sees.

The API names fields by path (``criteria.all[0].minRevenue``), which a program needs and
a manager does not; the list form says "Rule 1 › Minimum lifetime revenue" instead.
"""

from __future__ import annotations

import re

#: criterion fields as the builder labels them
FIELDS = {
    "name": "Name",
    "description": "Description",
    "topicId": "Email topic",
    "topic_id": "Email topic",
    "criteria": "Criteria",
    "sunsetPolicy": "Sunset customers",
    "minEmails": "Emails without a reply",
    "campaignId": "Campaign",
    "type": "Rule type",
    "territory": "Territory",
    "minRevenue": "Minimum lifetime revenue",
    "skuId": "Wine",
    "withinDays": "Within (days)",
    "days": "Days without an order",
    "customQuery": "Custom fields",
    "accountType": "Account type",
    "accountPriority": "Priority",
}
#: a combinator and the word for one of its children
GROUPS = {"all": "Rule", "any": "Alternative", "not": "Except"}
_STEP = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def _words(name: str) -> str:
    spaced = re.sub(r"(?<!^)(?=[A-Z])", " ", name).replace("_", " ")
    return spaced[:1].upper() + spaced[1:].lower()


def label(path: str) -> str:
    """``criteria.all[0].minRevenue`` -> ``Rule 1 › Minimum lifetime revenue``."""
    parts: list[str] = []
    steps = path.split(".")
    for position, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        if match is None:
            parts.append(step)
            continue
        name, index = match.group(1), match.group(2)
        if name == "criteria" and position == 0 and len(steps) > 1:
            continue
        if name in GROUPS and index is not None:
            parts.append(f"{GROUPS[name]} {int(index) + 1}")
        elif name in GROUPS:
            parts.append(GROUPS[name])
        else:
            parts.append(FIELDS.get(name) or _words(name))
    return " › ".join(parts) or "Criteria"
