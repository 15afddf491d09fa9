"""What `docmail --help` and each command's help say: whole summaries, every option described."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from docmail_nb.cli import main


def groups() -> list[list[str]]:
    found = [[]]
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            found.append([name])
    return found


def commands() -> list[list[str]]:
    found: list[list[str]] = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            found += [[name, sub] for sub in command.commands]
        else:
            found.append([name])
    return found


@pytest.mark.parametrize("path", groups(), ids=lambda p: " ".join(p) or "docmail")
def test_command_summaries_are_not_cut(path: list[str]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0
    listing = result.output.split("Commands:", 1)[1]
    assert "..." not in listing, listing


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_option_is_described(path: list[str]) -> None:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    bare = [
        param.name
        for param in command.params
        if isinstance(param, click.Option) and not param.help and param.name != "help"
    ]
    assert bare == [], f"docmail {' '.join(path)}: options without help: {bare}"


def test_sheet_option_says_name_or_position_from_0() -> None:
    text = CliRunner().invoke(main, ["check", "--help"], terminal_width=100).output
    assert "0 = the first sheet" in " ".join(text.split())
