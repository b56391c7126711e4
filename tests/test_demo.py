import re
import sys
import types

import pytest

import wiretrace
from wiretrace import demo

SEED_WORDS = ("kazakh", "tokayev", "coup", "ablyazov", "nazarbayev", "osce", "moscow times", "kalashnikov")
NAMES = (demo.ORIGINAL, *demo.COPIES)


@pytest.mark.parametrize("name", NAMES)
def test_example_is_a_plain_text_article_with_title_and_byline(name):
    lines = demo.example_path(name).read_text(encoding="utf-8").splitlines()
    title, byline = lines[0], lines[1]
    assert title.strip() and not title.endswith(".")
    assert re.search(r"\b2024\b|/2024", byline), byline
    body = [x for x in lines[2:] if x.strip()]
    assert len(body) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_example_shares_nothing_with_the_seeds(name):
    text = demo.example_path(name).read_text(encoding="utf-8").lower()
    assert not [w for w in SEED_WORDS if w in text]


def test_examples_readme_describes_every_example_with_a_verdict():
    readme = (demo.EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        row = next(x for x in readme.splitlines() if x.startswith(f"| `{name}.txt`"))
        if name != demo.ORIGINAL:
            assert re.search(r"(wholly|partially|not) derived", row), name


def test_wire_original_is_a_dated_agency_story():
    text = demo.example_path(demo.ORIGINAL).read_text(encoding="utf-8")
    assert "SINES, Portugal (Reuters) -" in text
    assert 14 <= len(re.findall(r"[.!?][\"”]?(?:\s|$)", text.split("\n\n", 1)[1])) <= 24


def test_top_level_examples_link_points_at_the_package_data():
    link = demo.EXAMPLES.parent.parent / "examples"
    assert link.is_symlink() and link.resolve() == demo.EXAMPLES.resolve()


def test_run_demo_compares_each_copy_with_the_original(monkeypatch, make_comparison, tmp_path):
    calls = []
    fake = types.SimpleNamespace(compare=lambda a, b, options=None: calls.append((a, b)) or make_comparison())
    monkeypatch.setitem(sys.modules, "wiretrace.api", fake)
    monkeypatch.setattr(wiretrace, "api", fake, raising=False)
    pairs = demo.run_demo(tmp_path / "out")
    assert [p.name for p in pairs] == list(demo.COPIES)
    assert calls == [(demo.example_path(n), demo.example_path(demo.ORIGINAL)) for n in demo.COPIES]
    assert all(p.html.is_file() and p.html.parent == tmp_path / "out" for p in pairs)
