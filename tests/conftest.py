"""Shared fixtures: `make_comparison()` builds a small, complete `Comparison` by hand.

It needs no engine: two short articles (a wire story and a blog rewrite of it) segmented by hand,
with every label (verbatim, edited, paraphrase with a merge, new, used, omitted), a title and a
boilerplate line on each side, matched word spans and one changed fact.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from wiretrace.models import (
    Alignment,
    Article,
    ChangedFact,
    Comparison,
    Direction,
    Document,
    Labelled,
    Match,
    Sentence,
    Verdict,
)


class Spec(NamedTuple):
    text: str
    role: str = "body"
    label: str = ""
    paragraph: int = 0
    matches: tuple = ()  # (counterpart index, lexical, semantic, (marked substrings, ...))


SOURCE = [
    Spec("Ferry services suspended after storm damages Porto Vale pier", "title"),
    Spec("PORTO VALE (Wirepress) - Ferry services were suspended on Monday after a storm damaged "
         "the main pier.", "body", "used", 1, ((1, 1.0, 1.0, ("Ferry services were suspended",)),)),
    Spec("The harbour master said repairs would take at least ten days.", "body", "used", 1,
         ((2, 0.82, 0.95, ("The harbour master said repairs would take at least",)),)),
    Spec("About 3,000 commuters use the ferry every day, according to the operator.", "body", "used",
         2, ((3, 0.21, 0.81, ("3,000 commuters",)),)),
    Spec("The operator has laid on replacement buses from Tuesday.", "body", "used", 2,
         ((3, 0.25, 0.77, ("replacement buses from Tuesday",)),)),
    Spec('"We have never seen waves like this," said a fisherman, Tomas Leite.', "body", "omitted", 3),
    Spec("(Reporting by Ana Sousa)", "boilerplate", "", 4),
]

DERIVED = [
    Spec("Storm shuts Porto Vale ferries", "title"),
    Spec("PORTO VALE (Wirepress) - Ferry services were suspended on Monday after a storm damaged "
         "the main pier.", "body", "verbatim", 1, ((1, 1.0, 1.0, ("Ferry services were suspended",)),)),
    Spec("The harbour master said repairs would take at least twelve days.", "body", "edited", 1,
         ((2, 0.82, 0.95, ("The harbour master said repairs would take at least",)),)),
    Spec("Some 3,000 daily commuters will ride replacement buses from Tuesday.", "body", "paraphrase",
         2, ((3, 0.21, 0.81, ("3,000", "commuters")), (4, 0.25, 0.77, ("replacement buses from Tuesday",)))),
    Spec("Nobody seems to have planned for a storm like this.", "body", "new", 3),
    Spec("Leave a comment", "boilerplate", "", 4),
]


def _document(article_id: str, header: dict, specs: list[Spec], replace: dict[str, str]) -> Document:
    """Lay the specs out as an article text (paragraphs split by blank lines) with true offsets."""
    specs = [s._replace(text=_replaced(s.text, replace)) for s in specs]
    text, starts = "", []
    for i, spec in enumerate(specs):
        if i:
            text += " " if spec.paragraph == specs[i - 1].paragraph else "\n\n"
        starts.append(len(text))
        text += spec.text
    article = Article(id=article_id, text=text + "\n", title=specs[0].text, **header)
    sentences = tuple(
        Sentence(article_id, i, start, start + len(s.text), s.text, s.role, s.paragraph)
        for i, (s, start) in enumerate(zip(specs, starts))
    )
    return Document(article, sentences)


def _replaced(text: str, replace: dict[str, str]) -> str:
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def _labelled(doc: Document, specs: list[Spec]) -> tuple[Labelled, ...]:
    out = []
    for sentence, spec in zip(doc.sentences, specs):
        matches = tuple(
            Match(index, lexical, semantic, tuple(_span(sentence, m) for m in marks if m in sentence.text))
            for index, lexical, semantic, marks in spec.matches
        )
        out.append(Labelled(sentence, spec.label, matches))
    return tuple(out)


def _span(sentence: Sentence, marked: str) -> tuple[int, int]:
    start = sentence.start + sentence.text.index(marked)
    return start, start + len(marked)


def build_comparison(replace: dict[str, str] | None = None, **verdict_changes) -> Comparison:
    """A blog post ("blog-7") partially derived from a wire story ("wire-1").

    `replace` substitutes text in both articles (to inject markup, non-ASCII, ...);
    `verdict_changes` override fields of the `Verdict` (verdict="not derived", credited=True, ...).
    """
    replace = replace or {}
    source = _document("wire-1", {"outlet": "Wirepress", "published": "2024-02-05", "byline": "Wirepress",
                                  "dateline": "PORTO VALE (Wirepress) -"}, SOURCE, replace)
    derived = _document("blog-7", {"outlet": "Coastal Blog", "published": "2024-02-06"}, DERIVED, replace)
    alignment = Alignment(
        derived=_labelled(derived, DERIVED),
        source=_labelled(source, SOURCE),
        changed_facts=(ChangedFact(2, 2, "number", "twelve", "ten"),),
    )
    verdict = Verdict(
        verdict="partially derived",
        derived_share=0.62,
        source_share=0.71,
        direction=Direction("wire-1", 0.9, (
            'dateline "PORTO VALE (Wirepress) -" in wire-1',
            "wire-1 published 2024-02-05, a day before blog-7",
        )),
        credited=False,
        credit_evidence=("blog-7 names no agency or outlet",),
    )
    fields = verdict.__dict__ | verdict_changes
    return Comparison(derived, source, alignment, Verdict(**fields))


@pytest.fixture
def make_comparison():
    """The factory itself: `comparison = make_comparison(replace={...}, credited=True)`."""
    return build_comparison
