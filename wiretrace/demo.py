"""The demo: the bundled wire story compared with each of its bundled copies (see examples/README.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .models import Comparison
from .options import Options
from .report import write_html

EXAMPLES = Path(__file__).parent / "examples"
ORIGINAL = "wire_original"
# The copies, from most to least derived; "changed_facts" last as the special case.
COPIES = ("verbatim_reprint", "light_edit", "heavy_paraphrase", "independent", "changed_facts")


@dataclass(frozen=True)
class DemoPair:
    name: str  # the copy's example name, e.g. "heavy_paraphrase"
    comparison: Comparison
    html: Path  # the HTML report written for this pair


def example_path(name: str) -> Path:
    """The bundled example article `name` ("wire_original", "light_edit", ...)."""
    return EXAMPLES / f"{name}.txt"


def run_demo(out_dir: str | os.PathLike, options: Options | None = None) -> list[DemoPair]:
    """Compare the wire original with each copy and write one HTML report per pair into `out_dir`."""
    from . import api  # the engine loads its models on first use; keep `import wiretrace.demo` light

    out = Path(out_dir)
    pairs = []
    for name in COPIES:
        # The copy goes first: with no evidence either way, compare() takes its second argument
        # as the source.
        comparison = api.compare(example_path(name), example_path(ORIGINAL), options)
        pairs.append(DemoPair(name, comparison, write_html(comparison, out / f"{name}.html")))
    return pairs
