"""Every command and option of `router` says what it does, and --help shows its default."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from router.cli import _parser
from router.settings import Settings


def _parsers(
    parser: argparse.ArgumentParser, path: str = "router"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    seen = 0
    for path, parser in _parsers(_parser()):
        assert parser.description, f"{path} has no description"
        assert parser.formatter_class is argparse.ArgumentDefaultsHelpFormatter, path
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{path} {choice.dest} has no help"
                continue
            assert action.help, f"{path} {action.option_strings or action.dest} has no help"
            seen += 1
    assert seen >= 15


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_help_shows_defaults(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside "(default: ...)"
    with pytest.raises(SystemExit):
        _parser().parse_args([command, "--help"])
    text = capsys.readouterr().out
    assert "(default: 8080)" in text  # the port
    assert f"(default: {Settings.from_env().config_path})" in text  # --config
