import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import wiretrace
from wiretrace.cli import app
from wiretrace.errors import InputError, StoreError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "wiretrace" / "examples" / "wire_original.txt"
COMMANDS = sorted(get_command(app).commands)


def _engine_ready() -> bool:
    try:
        from wiretrace import api
    except ImportError:
        return False
    return hasattr(api, "compare")


needs_engine = pytest.mark.skipif(not _engine_ready(), reason="wiretrace.api.compare is not there yet")


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def engine(monkeypatch, make_comparison):
    """Replace `wiretrace.api` with a fake whose `compare` returns the fixture comparison, or raises
    `engine.error` when a test sets it."""
    fake = types.SimpleNamespace(error=None, calls=[])

    def compare(a, b, options=None):
        fake.calls.append((a, b, options))
        if fake.error:
            raise fake.error
        return make_comparison()

    fake.compare = compare
    monkeypatch.setitem(sys.modules, "wiretrace.api", fake)
    monkeypatch.setattr(wiretrace, "api", fake, raising=False)
    return fake


# -- with a fake engine: the CLI's own behaviour ------------------------------------------------


def test_compare_prints_the_report(engine, tmp_path):
    result = invoke("compare", "rewrite.txt", "wire.txt")
    assert result.exit_code == 0, result.output
    assert "partially derived" in result.stdout and "→ S3 lex 0.21 sem 0.81" in result.stdout
    a, b, options = engine.calls[0]
    assert (str(a), str(b)) == ("rewrite.txt", "wire.txt") and options is not None


def test_compare_json_prints_the_contract(engine, make_comparison):
    result = invoke("compare", "a.txt", "b.txt", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(json.dumps(make_comparison().to_dict()))


def test_compare_html_writes_the_report_and_says_where(engine, tmp_path):
    path = tmp_path / "out" / "pair.html"
    result = invoke("compare", "a.txt", "b.txt", "--json", "--html", path)
    assert result.exit_code == 0
    assert "<!DOCTYPE html>" in path.read_text(encoding="utf-8")
    assert str(path) in result.stderr and str(path) not in result.stdout
    json.loads(result.stdout)  # stdout stays pure JSON


def test_compare_passes_config_settings_to_the_engine(engine, tmp_path):
    config = tmp_path / "w.toml"
    config.write_text("[align]\nparaphrase = 0.7\n")
    assert invoke("compare", "a.txt", "b.txt", "--config", config).exit_code == 0
    assert engine.calls[0][2].align.paraphrase == 0.7


def test_bad_config_is_a_clear_error(engine, tmp_path):
    result = invoke("compare", "a.txt", "b.txt", "--config", tmp_path / "missing.toml")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "missing.toml: config file not found" in result.stderr
    assert engine.calls == []


@pytest.mark.parametrize(("error", "code"), [
    (InputError("not UTF-8 text (byte 0xff at offset 3)", path="story.txt"), 2),
    (StoreError("store built with fingerprint scheme 1; this is 2", path="w.db"), 3),
])
def test_engine_errors_become_a_message_and_their_exit_code(engine, error, code):
    engine.error = error
    result = invoke("compare", "story.txt", "b.txt")
    assert result.exit_code == code
    assert result.stderr == f"error: {error}\n" and result.stdout == ""


def test_engine_errors_are_json_with_json(engine):
    engine.error = InputError("empty file; expected an article", path="empty.txt")
    result = invoke("compare", "empty.txt", "b.txt", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stderr) == {"error": "InputError", "message": "empty.txt: empty file; expected an "
                                         "article", "path": "empty.txt", "record": None}


def test_unexpected_exceptions_are_not_swallowed(engine):
    engine.error = RuntimeError("bug in the engine")
    result = invoke("compare", "a.txt", "b.txt")
    assert isinstance(result.exception, RuntimeError)
    assert "error: " not in result.stderr


def test_demo_writes_a_report_per_pair_and_prints_a_summary(engine, tmp_path):
    result = invoke("demo", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    names = ["verbatim_reprint", "light_edit", "heavy_paraphrase", "independent", "changed_facts"]
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == sorted(f"{n}.html" for n in names)
    for name in names:
        assert name in result.stdout
    assert "heavy_paraphrase vs wire_original, in full" in result.stdout
    assert "→ S3 lex 0.21 sem 0.81" in result.stdout  # the full report
    assert str(tmp_path / "demo") in result.stdout.replace("\n", "")


def test_demo_json_lists_the_pairs(engine, tmp_path):
    result = invoke("demo", "--out", tmp_path, "--json")
    rows = json.loads(result.stdout)
    assert [r["pair"] for r in rows][:2] == ["verbatim_reprint", "light_edit"]
    assert set(rows[0]) == {"pair", "verdict", "derived_share", "source_share", "original", "confidence",
                            "credited", "changed_facts", "html"}
    assert Path(rows[0]["html"]).is_file()


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("wiretrace ")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert f"Usage: wiretrace {command}" in " ".join(result.stdout.split())
    assert get_command(app).commands[command].help  # a docstring, not an empty page


def test_no_command_shows_help():
    result = invoke()
    assert "Commands" in result.output and "compare" in result.output


# -- with the real engine: bad input files are the engine's clear errors ------------------------

BAD_FILES = {
    "empty.txt": b"",
    "blank.txt": b"  \n\n \t\n",
    "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 8,
    "latin1.txt": "Título\n\nO café fechou às três horas da tarde, disse o porta-voz.\n".encode("latin-1"),
}


@needs_engine
def test_missing_file_exits_2_naming_it(tmp_path):
    missing = tmp_path / "no-such-story.txt"
    result = invoke("compare", missing, EXAMPLE)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "no-such-story.txt" in result.stderr


@needs_engine
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_file_exits_2_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    result = invoke("compare", path, EXAMPLE)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and name in result.stderr


@needs_engine
def test_bad_file_in_second_place_is_named_too(tmp_path):
    path = tmp_path / "second.txt"
    path.write_bytes(b"")
    result = invoke("compare", EXAMPLE, path, "--json")
    assert result.exit_code == 2
    error = json.loads(result.stderr)
    assert error["error"] == "InputError" and "second.txt" in error["message"]


@needs_engine
def test_console_script_entry_point_exits_with_the_error_code(tmp_path):
    """`main()` itself, as the installed `wiretrace` script runs it."""
    result = subprocess.run(
        [sys.executable, "-c", "from wiretrace.cli import main; main()", "compare",
         str(tmp_path / "gone.txt"), str(EXAMPLE)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "gone.txt" in result.stderr
