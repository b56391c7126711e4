"""Split an article into paragraphs and sentences, and say which of them are the story.

`segment` returns every sentence with character offsets into `Article.text` (so
``article.text[s.start:s.end] == s.text`` always holds), a role (`title`, `body` or `boilerplate`)
and, for titles and boilerplate, the name of the rule that decided it. `normalize` is the Unicode
clean-up that matching works on; it fills `Sentence.norm` and never touches the offsets.

Paragraphs are blocks separated by blank lines; inside a block each line is a paragraph of its
own (many scraped files put one paragraph per line) unless the block is hard-wrapped prose, in
which case a line break is just a space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from .boilerplate import Line, boilerplate_rule, is_comment_heading, is_standalone_credit
from .models import BODY, BOILERPLATE, TITLE, Article, Document, Sentence
from .options import SegmentOptions

__all__ = ["normalize", "segment", "split_sentences"]

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
_TRANSLATION = str.maketrans(
    {
        **{c: "'" for c in "‘’‚‛′‵`´"},
        **{c: '"' for c in "“”„‟″‶«»"},
        **{c: "-" for c in "‐‑‒–—―−﹘﹣－⁃"},
        **{c: " " for c in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
           "\u2008\u2009\u200a\u202f\u205f\u3000"},
        **{c: None for c in ZERO_WIDTH},
    }
)
_MARKDOWN = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # ![alt](src)
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # [text](href)
    (re.compile(r"<((?:https?://|www\.)[^>\s]+)>"), r"\1"),  # <https://...>
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **bold**, __bold__
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *em*
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_]+?)(?<=\S)_(?![\w_])"), r"\1"),  # _em_
    (re.compile(r"`([^`]+)`"), r"\1"),  # `code`
    (re.compile(r"(?m)^\s*#{1,6}\s+"), ""),  # ## heading
)


_MARKDOWN_CHARS = re.compile(r"[*_\[<`#]")


def normalize(text: str, *, markdown: bool = True) -> str:
    """Text for matching: NFKC, straight quotes, '-' for dashes, single spaces, no zero-width
    characters and (unless `markdown=False`) markdown emphasis and links reduced to what a reader
    sees. The result is not offset-compatible with the input; use it for comparison only."""
    if not text.isascii() or "`" in text:  # ASCII is NFKC already, and only "`" is translated
        text = unicodedata.normalize("NFKC", text).translate(_TRANSLATION)
    if markdown and _MARKDOWN_CHARS.search(text):
        for pattern, replacement in _MARKDOWN:
            text = pattern.sub(replacement, text)
    return " ".join(text.split())


# --- paragraphs -------------------------------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CLOSERS = "\"'”’»)]*_"
_TERMINAL = ".!?…۔؟。！？"
_LIST_MARKER = re.compile(r"^(?:[-*•·▪–—]\s|\d{1,3}[.)]\s)")
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for from with and or but as that which who whose than "
    "into onto over under about after before between his her its their our your this these".split()
)


def _blank(char: str) -> bool:
    return char.isspace() or char in ZERO_WIDTH


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return start, end


def _blocks(text: str) -> Iterator[list[tuple[int, int]]]:
    """Runs of non-blank lines, each line as stripped (start, end) offsets."""
    block: list[tuple[int, int]] = []
    position = 0
    for match in [*_LINE_BREAK.finditer(text), None]:
        line_end = match.start() if match else len(text)
        start, end = _strip(text, position, line_end)
        if start < end:
            block.append((start, end))
        elif block:
            yield block
            block = []
        position = match.end() if match else len(text)
    if block:
        yield block


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS + " ").endswith(tuple(_TERMINAL))


def _wrapped(lines: list[str]) -> bool:
    """Hard-wrapped prose: most lines but the last run on without final punctuation."""
    if len(lines) < 3:
        return False
    open_lines = sum(1 for line in lines[:-1] if not _ends_sentence(line) and len(line.split()) >= 6)
    return open_lines * 3 >= (len(lines) - 1) * 2


def _continues(line: str, following: str) -> bool:
    """Whether the line break between two lines of a block is inside a sentence."""
    if _ends_sentence(line) or _LIST_MARKER.match(following):
        return False
    if following[:1].islower():
        return True
    last = line.split()[-1]
    return last.endswith((",", ";", ":", "-")) or last.lower() in _FUNCTION_WORDS


def _title_line_apart(text: str, block: list[tuple[int, int]]) -> bool:
    """Does the text's first line stand apart from the rest of its block? A title ending in a
    function word ("... what the strike is really about") is still a title when a capitalised
    line follows; only a lower-case continuation or hard-wrapped prose joins it."""
    lines = [text[s:e] for s, e in block]
    return len(lines) > 1 and not lines[1][:1].islower() and not _wrapped(lines)


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each paragraph of `text`, stripped of surrounding whitespace.
    The first line of the text is a paragraph of its own (it is the title) unless the sentence
    runs on into the next line."""
    spans = []
    for number, block in enumerate(_blocks(text)):
        if number == 0 and _title_line_apart(text, block):
            spans.append(block[0])
            block = block[1:]
        lines = [text[s:e] for s, e in block]
        if _wrapped(lines):
            spans.append((block[0][0], block[-1][1]))
            continue
        start, end = block[0]
        for (s, e), line, following in zip(block[1:], lines, lines[1:]):
            if _continues(line, following):
                end = e
            else:
                spans.append((start, end))
                start, end = s, e
        spans.append((start, end))
    return spans


# --- sentences --------------------------------------------------------------------------------

_BOUNDARY = re.compile(
    rf"(?:(?P<latin>\.{{2,}}|…+|[.!?]+)[{re.escape(_CLOSERS)}]*(?=\s|$)"
    rf"|(?P<other>[۔؟。！？]+)[{re.escape(_CLOSERS)}]*)"
)
ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr prof sr jr st gen col lt maj sgt capt cmdr adm gov sen rep rev hon pres "
    "supt insp det cpl pvt fr messrs mme mlle dept univ assn bros ave blvd rd mt ft "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri sat sun "
    "vs v approx est fig figs vol vols ch ed eds e.g i.e cf al a.m p.m".split()
)
_NUMBER_ABBREVIATIONS = frozenset("no nos art arts p pp para sec".split())
SENTENCE_STARTERS = frozenset(
    "the a an he she it they we i you his her its their this that these those there but and "
    "in on at for as if when while after before however meanwhile still yet so also".split()
)
_OPENERS = {"“": "”", "„": "”", "«": "»"}
_CURLY_DOUBLE = re.compile("[“”„«»]")
_SINGLE = re.compile("['‘’]")
_NEXT = re.compile(r"\s*(\S*)")


def _quotations(text: str) -> list[tuple[int, int]]:
    """(open, close) positions of double-quoted spans; unbalanced straight quotes are ignored."""
    spans = []
    straight = [m.start() for m in re.finditer('"', text)]
    if len(straight) % 2 == 0:
        spans += list(zip(straight[::2], straight[1::2]))
    stack: list[tuple[int, str]] = []
    for match in _CURLY_DOUBLE.finditer(text):
        i, char = match.start(), match.group()
        if char in _OPENERS:
            stack.append((i, _OPENERS[char]))
        elif stack and char == stack[-1][1]:
            spans.append((stack.pop()[0], i))
    return spans + _single_quotations(text)


def _single_quotations(text: str) -> list[tuple[int, int]]:
    """Single-quoted spans, told from apostrophes by what stands around them: an opening quote
    follows a space and precedes a letter; a closing one follows punctuation ("go,' she said")."""
    spans = []
    opened = None
    for match in _SINGLE.finditer(text):
        i, char = match.start(), match.group()
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if opened is None and char in "'‘" and (before.isspace() or before in "(:\"“-—") and after.isalnum():
            opened = i
        elif opened is not None and char in "'’" and before in ",.!?" and (after.isspace() or after in ".,;)\"”"):
            spans.append((opened, i))
            opened = None
    return spans


def _continuing(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Quotations that are part of a longer sentence: ``"We won. We are back," she said.``"""
    kept = []
    for start, close in spans:
        before = text[start + 1 : close].rstrip()
        after = _NEXT.match(text, close + 1).group(1)
        if not before.endswith(tuple(_TERMINAL)) or after[:1].islower() or after[:1] in (",", ";"):
            kept.append((start, close))
    return kept


def _no_split_after(token: str, following: str) -> bool:
    """Whether a single '.' after `token` ends an abbreviation or initial, not a sentence;
    `following` is the next word."""
    token = token.lstrip("\"'“‘([«").rstrip(".")
    word = token.lower()
    next_word = re.sub(r"^\W+", "", following)
    if word in ABBREVIATIONS:
        return True
    if word in _NUMBER_ABBREVIATIONS:
        return next_word[:1].isdigit()
    if re.fullmatch(r"[A-Z]", token):  # an initial: "J. K. Rowling"
        return True
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token):  # "U.S", "U.N": the last dot is ours
        return next_word.lower() not in SENTENCE_STARTERS
    return False


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text[start:end]`, stripped of whitespace."""
    end = len(text) if end is None else end
    chunk = text[start:end]
    inside = _continuing(chunk, _quotations(chunk))
    spans = []
    begin = 0
    for match in _BOUNDARY.finditer(chunk):
        stop = match.end()
        following = _NEXT.match(chunk, stop).group(1)  # the next word
        if not following:
            break
        if not _splits(chunk, begin, match, following, inside):
            continue
        s, e = _strip(text, start + begin, start + stop)
        if s < e:
            spans.append((s, e))
        begin = stop
    s, e = _strip(text, start + begin, end)
    if s < e:
        spans.append((s, e))
    return spans


def _splits(chunk: str, begin: int, match: re.Match, following: str, inside) -> bool:
    first = following[0]
    if first.islower() or first in ",;:)]}":
        return False
    if not any(c.isalnum() for c in chunk[begin : match.start()]):
        return False  # "..." or "!!" alone is not a sentence
    if any(open_ < match.start() and match.end() <= close for open_, close in inside):
        return False
    before = chunk[begin : match.start()]
    if match["latin"] == ".":
        token = before.rsplit(maxsplit=1)[-1] if before.strip() else ""
        return not _no_split_after(token, following)
    if match["other"] and match["other"][0] == "۔" and (begin == 0 or before[-1:].isspace()):
        return len(before.split()) > 3  # "شہر ۔ یکم" opens a dateline, it is not a full stop
    return True


# --- roles ------------------------------------------------------------------------------------


def _title_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", normalize(text).casefold()).split())


def _same_title(line: str, title: str) -> bool:
    """Is `line` the title again: the same words, or one of the two begins with the other (a
    shortened title)? A line that runs on past the title is the title only while it reads as a
    headline (no final punctuation, at most 30 words): a lead paragraph often opens with the
    words a title was cut from."""
    a, b = _title_key(line), _title_key(title)
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) < 12 or not long_.startswith(short):
        return False
    if len(a) < len(b):  # the line is a shortened title
        return True
    return not _ends_sentence(line) and len(line.split()) <= 30


def _title_like(plain: str) -> bool:
    words = [w for w in plain.split() if any(c.isalpha() for c in w)]
    if not words:
        return False
    capitalised = sum(1 for w in words if w.lstrip("\"'(").lstrip()[:1].isupper())
    return capitalised * 5 >= len(words) * 3 or plain.isupper()


def _is_heading(raw: str, plain: str, words: int, options: SegmentOptions) -> bool:
    """A crosshead: a short line without final punctuation."""
    text = plain.strip()
    if not text or _ends_sentence(text) or text.rstrip(_CLOSERS).endswith((":", ",", ";")):
        return False
    if _LIST_MARKER.match(raw) or words > options.max_heading_words:
        return False
    if words < options.min_words:
        return any(c.isalpha() for c in text)
    quoted = text[:1] in "\"'" and text.rstrip(_CLOSERS) != text
    marked = raw.lstrip().startswith(("#", "**", "__"))
    return quoted or marked or _title_like(text)


def _first_is_title(plain: str, article: Article) -> bool:
    if article.title:
        return _same_title(plain, article.title)
    return not _ends_sentence(plain) and len(plain.split()) <= 30


def _roles(text: str, units: list[tuple[int, int]], article: Article, options: SegmentOptions):
    """(role, rule) for each paragraph."""
    roles: list[tuple[str, str]] = []
    lines = []
    seen_body = in_comments = False
    title = ""
    for i, (start, end) in enumerate(units):
        raw = normalize(text[start:end], markdown=False)
        plain = normalize(raw)
        line = Line(raw, plain, len(plain.split()), at_top=not seen_body and i < options.head_paragraphs)
        lines.append(line)
        role, rule = BODY, ""
        if not title and not seen_body and i < 3 and _first_is_title(plain, article):
            title = plain
            role, rule = TITLE, "title"
        elif title and roles[-1] == (TITLE, "title") and _same_title(plain, title):
            role, rule = TITLE, "repeated title"
        elif options.boilerplate and in_comments:
            role, rule = BOILERPLATE, boilerplate_rule(line) or "comment section"
        elif options.boilerplate and (rule := boilerplate_rule(line)):
            role = BOILERPLATE
            in_comments = seen_body and is_comment_heading(line)
        elif _is_heading(raw, plain, line.words, options):
            role, rule = TITLE, "heading"
        else:
            seen_body = True
        roles.append((role, rule))
    if options.boilerplate:
        _mark_captions(roles, lines, options)
    return roles


def _mark_captions(roles: list[tuple[str, str]], lines: list[Line], options: SegmentOptions) -> None:
    """A short body line right above a picture credit is the picture's caption (or alt text).
    Alt texts have no final punctuation and may be twice as long as a punctuated caption."""
    for i in range(len(roles) - 1):
        limit = options.max_caption_words * (1 if _ends_sentence(lines[i].plain) else 2)
        if (
            roles[i][0] == BODY
            and lines[i].words <= limit
            and roles[i + 1] == (BOILERPLATE, "picture credit")
            and is_standalone_credit(lines[i + 1])
        ):
            roles[i] = (BOILERPLATE, "caption")


def segment(article: Article, options: SegmentOptions = SegmentOptions()) -> Document:
    """The article's sentences, titles, headings and boilerplate, in text order."""
    text = article.text
    units = paragraphs(text)
    sentences: list[Sentence] = []
    for paragraph, ((start, end), (role, rule)) in enumerate(
        zip(units, _roles(text, units, article, options))
    ):
        spans = [(start, end)] if role == TITLE else split_sentences(text, start, end)
        for s, e in spans:
            sentence_text = text[s:e]
            sentences.append(
                Sentence(
                    article=article.id,
                    index=len(sentences),
                    start=s,
                    end=e,
                    text=sentence_text,
                    role=role,
                    paragraph=paragraph,
                    norm=normalize(sentence_text),
                    rule=rule,
                )
            )
    return Document(article=article, sentences=tuple(sentences))
