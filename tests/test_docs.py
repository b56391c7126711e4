"""Every CLI command is documented in docs/cli.md, with each of its options, and has --help."""

import re
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from wiretrace.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
GROUP = get_command(app)


def sections() -> dict[str, str]:
    """`### wiretrace NAME` sections of the `## Commands` part of docs/cli.md, by command name."""
    text = DOCS.read_text(encoding="utf-8")
    commands = text[text.index("\n## Commands\n"):]
    parts = re.split(r"^### wiretrace (\S+)\s*$", commands, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_docs_have_a_commands_section():
    assert sections(), "docs/cli.md needs a '## Commands' section with '### wiretrace NAME' headings"


@pytest.mark.parametrize("name", sorted(GROUP.commands))
def test_command_is_documented_with_its_options(name):
    section = sections().get(name)
    assert section is not None, f"docs/cli.md: no '### wiretrace {name}' section"
    options = [o for p in GROUP.commands[name].params for o in p.opts if o.startswith("--")]
    missing = [o for o in options if not re.search(rf"`{re.escape(o)}\b", section)]
    assert not missing, f"docs/cli.md, wiretrace {name}: options not documented: {missing}"


@pytest.mark.parametrize("name", sorted(GROUP.commands))
def test_documented_command_has_help(name):
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0
    first_line = GROUP.commands[name].help.strip().splitlines()[0]
    assert first_line[:40] in " ".join(result.stdout.split())


def test_every_documented_command_exists():
    assert set(sections()) <= set(GROUP.commands)
