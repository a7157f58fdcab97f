"""The README names only commands that exist: each ``flask ...`` it mentions answers
``--help`` (placeholders, options and ``a | b`` alternatives understood)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
_PLACEHOLDER = re.compile(r"^(?:[A-Z_]+|\.\.\.|\[.*|<.*|-.*|#.*)$")


def readme_commands() -> list[tuple[str, ...]]:
    """Every ``flask`` command line of the README as its command words."""
    found: list[tuple[str, ...]] = []
    for line in README.read_text(encoding="utf-8").splitlines():
        for match in re.finditer(r"\bflask((?: +[^\s`|#()]+| *\| *[a-z][\w-]*)+)", line):
            words = match.group(1).replace("|", " | ").split()
            if words[:2] == ["--app", "wsgi"]:
                words = words[2:]
            command: list[str] = []
            alternatives = False
            for word in words:
                if word == "|":
                    alternatives = True
                    continue
                if _PLACEHOLDER.match(word) or word.startswith("."):
                    break
                if alternatives:  # "jobs list | tick": another subcommand of "jobs"
                    found.append((*command[:-1], word))
                    alternatives = False
                    continue
                command.append(word)
            if command:
                found.append(tuple(command))
    return sorted(set(found))


def test_the_readme_names_commands():
    commands = readme_commands()
    assert ("users", "create") in commands and ("jobs", "tick") in commands
    assert ("email", "sweep") in commands and ("db", "upgrade", "heads") in commands
    # a plug-in channel has its own Alembic branch: a bare upgrade stops at several heads
    assert ("db", "upgrade") not in commands


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_each_command_the_readme_names_exists(app, command):
    result = app.test_cli_runner().invoke(args=[*command, "--help"])
    assert result.exit_code == 0, f"flask {' '.join(command)}: {result.output}"
    assert "Usage:" in result.output
