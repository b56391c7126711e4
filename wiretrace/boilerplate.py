"""Patterns for the page furniture around a news story, and for the credits inside it.

Each boilerplate rule has a name (it ends up in `Sentence.rule`, so a reader can see why a line
was left out) and looks at one paragraph of *normalised* text (see `segment.normalize`). Rules are
general: they describe what comment forms, share bars, picture credits and the like look like on
any site, and most of them only fire on short lines, so a body sentence that mentions a "reply"
or a "photo" in passing stays body.

The agency table and the byline/dateline/date patterns live here too, because both the segment
stage (bylines and date lines are boilerplate) and the ingest stage (they are metadata) use them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from datetime import date

# --- agencies ---------------------------------------------------------------------------------

# Canonical name -> spellings. Short acronyms match case-sensitively and on word boundaries, so
# "AP" is the agency but "ap" or "APPLE" are not; longer names match case-insensitively.
AGENCIES: dict[str, tuple[str, ...]] = {
    "AFP": ("AFP", "Agence France-Presse", "Agence France Presse", "اے ایف پی"),
    "AP": ("AP", "Associated Press"),
    "Reuters": ("Reuters", "رائٹرز"),
    "DPA": ("DPA", "dpa", "Deutsche Presse-Agentur"),
    "ANI": ("ANI", "Asian News International"),
    "PTI": ("PTI", "Press Trust of India"),
    "APP": ("APP", "Associated Press of Pakistan", "اے پی پی"),
    "IANS": ("IANS", "Indo-Asian News Service"),
    "Xinhua": ("Xinhua",),
    "EFE": ("EFE",),
    "ANSA": ("ANSA",),
    "Kyodo": ("Kyodo",),
    "Yonhap": ("Yonhap",),
    "UPI": ("UPI", "United Press International"),
    "Bloomberg": ("Bloomberg",),
    "TASS": ("TASS", "ITAR-TASS"),
    "Interfax": ("Interfax",),
    "RIA Novosti": ("RIA Novosti",),
    "Anadolu": ("Anadolu Agency", "Anadolu Ajansı"),
    "PA Media": ("PA Media", "Press Association"),
    "AAP": ("AAP", "Australian Associated Press"),
    "Canadian Press": ("Canadian Press",),
    "Bernama": ("Bernama",),
    "Antara": ("Antara",),
    "KUNA": ("KUNA",),
    "WAM": ("WAM",),
    "NNI": ("NNI", "این این آئی"),
    "PPI": ("PPI", "پی پی آئی"),
}


def _case_sensitive(spelling: str) -> bool:
    return len(spelling) <= 5 and spelling.upper() == spelling or spelling == "dpa"


def _spelling_pattern(spelling: str) -> str:
    body = re.escape(spelling).replace(r"\ ", r"\s+")
    return body if _case_sensitive(spelling) else rf"(?i:{body})"


_AGENCY_NAMES = {
    spelling: name for name, spellings in AGENCIES.items() for spelling in spellings
}
_SPELLINGS = sorted(_AGENCY_NAMES, key=len, reverse=True)  # "Associated Press of Pakistan" before "Associated Press"
_FIRST = "".join(sorted({c for s in _SPELLINGS for c in ((s[0],) if _case_sensitive(s) else (s[0].lower(), s[0].upper()))}))
# Word-bounded (no letter, digit or hyphen either side). The lookahead on the first letters lets
# the scan skip most positions without trying every spelling there: ~15x faster on whole articles.
AGENCY_RE = re.compile(
    rf"(?<![\w-])(?=[{re.escape(_FIRST)}])(?:"
    + "|".join(f"(?P<a{i}>{_spelling_pattern(s)})" for i, s in enumerate(_SPELLINGS))
    + r")(?![\w-])"
)
_GROUP_NAMES = {f"a{i}": _AGENCY_NAMES[s] for i, s in enumerate(_SPELLINGS)}


def agency_name(text: str) -> str:
    """The canonical agency name if `text` is exactly one of its spellings, else ""."""
    match = AGENCY_RE.fullmatch(text.strip())
    return _GROUP_NAMES[match.lastgroup] if match else ""


@lru_cache(maxsize=4096)  # asked of whole article texts, once per pair the article is in
def agencies_mentioned(text: str) -> tuple[str, ...]:
    """Every agency named anywhere in `text`, canonical names in order of first mention.

    Unlike `Article.credits`, this includes mentions that are not credits ("told AFP"); the
    attribute stage uses it to check whether a rewrite names its source at all.
    """
    found: dict[str, None] = {}
    for match in AGENCY_RE.finditer(text):
        found.setdefault(_GROUP_NAMES[match.lastgroup], None)
    return tuple(found)


# --- dates ------------------------------------------------------------------------------------

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)"
DATE_RES = (
    re.compile(r"(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})(?:[T ][\d:.]+(?:Z|[+-][\d:]+)?)?"),
    re.compile(rf"(?i:{_WEEKDAY}?{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}}))"),
    re.compile(rf"(?i:{_WEEKDAY}?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<year>\d{{4}}))"),
)
_TIME = r"(?:(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)"
_DATE_PREFIX = r"(?i:(?:published|updated|posted|last\s+updated|first\s+published|date)(?:\s+on)?\s*:?\s*)"


def parse_date(text: str) -> str:
    """The first date in `text` as an ISO date ("2022-11-17"), or "" when there is none."""
    best: tuple[int, str] | None = None
    for pattern in DATE_RES:
        match = pattern.search(text)
        if match is None:
            continue
        parts = match.groupdict()
        month = int(parts["mon"]) if parts.get("mon") else MONTHS[parts["month"].lower()]
        try:
            iso = date(int(parts["year"]), month, int(parts["day"])).isoformat()
        except ValueError:
            continue
        if best is None or match.start() < best[0]:
            best = (match.start(), iso)
    return best[1] if best else ""


def is_date_line(line: str) -> bool:
    """A line that is only a date, perhaps with "Published:", a weekday and a time."""
    rest = re.sub(_DATE_PREFIX, "", line.strip(), count=1)
    for pattern in DATE_RES:
        match = pattern.match(rest)
        if match and re.fullmatch(rf"[\s,|-]*{_TIME}?[\s,|.-]*", rest[match.end():]):
            return bool(parse_date(rest))
    return False


def has_date_prefix(line: str) -> bool:
    return re.match(_DATE_PREFIX, line.strip()) is not None and is_date_line(line)


# --- bylines and datelines -------------------------------------------------------------------

# "By Jane Doe", "By AFP", "BY JANE DOE AND JOHN ROE", "Written by ...", "Author: ..."
BYLINE_RE = re.compile(
    r"^(?:(?:written\s+|reported\s+|story\s+)?by|author(?:s)?\s*:)\s+(?P<name>[^\s.!?].{0,80}?)\s*$",
    re.IGNORECASE,
)
# "Reporting by Jane Doe; Editing by John Roe", the wire agencies' trailer.
TRAILER_RE = re.compile(
    r"^\(?(?:additional\s+)?(?:reporting|writing|editing|compiled)\s+by\b.{0,200}$", re.IGNORECASE
)
# "PARIS (AFP) -", "(Reuters) -", "WASHINGTON, Nov 3 (Reuters) -", "ISLAMABAD, Dec 1 (APP):"
DATELINE_RE = re.compile(
    r"^\s*(?P<dateline>(?:[A-Z][\w'’.-]*(?:[ -][A-Z][\w'’.-]*){0,3}"
    r"(?:,\s*[A-Za-z][\w'’.-]*(?:\s+[A-Za-z]\w*)?)?(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\s*)?"
    r"\((?P<agency>[^()\n]{2,40})\)\s*(?:[-–—:]+|$))"
)
# "— AP", "-- Reuters", "(AFP)" alone at the end of an article, or a trailing credit.
CREDIT_LINE_RE = re.compile(r"^\s*(?:[-–—]+\s*|\(\s*)(?P<agency>[^()\n]{2,40}?)\s*\)?\s*$")


_NAME_CONNECTORS = frozenset(
    "and of de da di du del der den van von la le al bin ibn in for the at with staff".split()
)


def byline_name(line: str) -> str:
    """The name in a byline ("By Jane Doe" -> "Jane Doe", "By AFP" -> "AFP"), or "" when the
    line is not one ("By Monday, all roads had reopened." is a sentence)."""
    match = BYLINE_RE.match(line.strip())
    if not match or len(line.split()) > 10:
        return ""
    name = match["name"].rstrip()
    words = re.sub(r"[,;&|/]", " ", name).split()
    if not words[0][:1].isupper() or re.search(r"[!?]$|[^A-Z]\.$", name):
        return ""
    if any(not w[:1].isupper() and w.lower() not in _NAME_CONNECTORS for w in words):
        return ""
    return name


# A header line of fields: "By Jane Doe | Reuters | March 12, 2024", "The Daily Example · Business ·
# 12 March 2024", "Posted on 13 March 2024 by newsdesk". Fields are split on bars and dots; a field
# that is none of byline, agency, date or time must be a short capitalised name (outlet, section).
_FIELD_SPLIT = re.compile(r"\s+[|·•]\s+|\s*\|\s*")
_POSTED_BY = re.compile(r"^(?P<date>.+?)\s+by\s+(?P<name>\S.{0,60})$", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{4}(?:,?\s+\d{1,2}:\d{2})?$")


def _numeric_date(text: str) -> str:
    """"25/03/2024" as an ISO date; "" when day and month could be swapped ("12/03/2024")."""
    a, b, year = (int(x) for x in re.split(r"[/.]", text.split(",")[0].split()[0]))
    if a > 12 >= b:
        day, month = a, b
    elif b > 12 >= a:
        day, month = b, a
    else:
        return ""
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


@dataclass(frozen=True)
class HeaderFields:
    byline: str = ""
    agencies: tuple[str, ...] = ()
    published: str = ""
    outlet: str = ""


def _name_field(text: str) -> bool:
    words = text.replace("&", " ").split()
    return 0 < len(words) <= 6 and all(w[:1].isupper() or w.lower() in _NAME_CONNECTORS for w in words)


def header_fields(line: str) -> HeaderFields | None:
    """The fields of a header line, or None when `line` is not one. A single field counts only as
    "<date> by <name>" (a lone byline or date line has rules of its own)."""
    parts = [p.strip() for p in _FIELD_SPLIT.split(line.strip()) if p.strip()]
    if len(parts) == 1:
        posted = _POSTED_BY.match(parts[0])
        if not posted or not is_date_line(posted["date"]) or len(posted["name"].split()) > 4:
            return None
        return HeaderFields(byline=posted["name"].strip(), published=parse_date(posted["date"]))
    byline, agencies, published, names, dated = "", [], "", [], False
    for part in parts:
        if not byline and byline_name(part):
            byline = byline_name(part)
            agencies += credited_agencies(byline)
        elif credited_agencies(part) and all(agency_name(a) for a in re.split(r"\s*[/,&]\s*", part)):
            agencies += credited_agencies(part)
        elif is_date_line(part):
            published = published or parse_date(part)
        elif _NUMERIC_DATE.match(part):
            published = published or _numeric_date(part)
            dated = True
        elif re.fullmatch(_TIME, part):
            continue
        elif _name_field(part):
            names.append(part)
        else:
            return None
    if not (byline or agencies or published or dated):
        return None
    return HeaderFields(byline, tuple(dict.fromkeys(agencies)), published, names[0] if names else "")


def credited_agencies(text: str) -> tuple[str, ...]:
    """Canonical agencies in a credit like "AFP", "AFP/Reuters", "AP and Reuters"."""
    names = []
    for part in re.split(r"\s*(?:/|,|&|(?i:\band\b)|\||\+|;)\s*", text.strip()):
        name = agency_name(part)
        if name and name not in names:
            names.append(name)
    return tuple(names)


# --- boilerplate rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """What a rule sees: a paragraph's normalised text and where it stands in the article."""

    text: str  # normalised, one line, markdown kept ("**Jane Doe / AP**", "[AFP](#)")
    plain: str  # the same with markdown reduced to the visible text
    words: int
    at_top: bool  # before the first body paragraph, near the start


def _short(line: Line, limit: int = 25) -> bool:
    return line.words <= limit


def _pattern(regex: str, limit: int | None = 25, top_only: bool = False):
    compiled = re.compile(regex, re.IGNORECASE)

    def rule(line: Line) -> bool:
        if top_only and not line.at_top:
            return False
        if limit is not None and not _short(line, limit):
            return False
        return compiled.search(line.plain) is not None

    return rule


COMMENT_FORM = re.compile(
    r"^(?:leave\s+a\s+(?:reply|comment)|post\s+a\s+comment|add\s+(?:a\s+)?comment|"
    r"\d+\s+(?:comments?|responses?|replies)|comments?\s*(?:\(\d+\))?|responses?|"
    r"join\s+the\s+(?:conversation|discussion)|"
    r"cancel\s+reply|show\s+comments|view\s+comments)\s*:?$",
    re.IGNORECASE,
)

_CREDIT_WORDS = (
    r"(?:getty\s+images|shutterstock|alamy|istock(?:photo)?|epa(?:-efe)?|"
    r"wikimedia(?:\s+commons)?|unsplash)"
)
# A picture credit at the end of a short line: "... **Jane Doe / AP / TASS**", "... Jane Doe/Reuters"
_NAME = r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}"
BOLD_CREDIT_RE = re.compile(r"(?:^|[.!?:]\s+|\s)\*\*(?P<credit>[^*]{2,80})\*\*\s*$")
SLASH_CREDIT_RE = re.compile(rf"(?:^|[.!?:]\s+)(?P<credit>{_NAME}(?:\s*/\s*{_NAME})+)\s*\.?$")
PICTURE_CREDIT_RE = re.compile(
    r"^(?:picture|photo(?:graph)?|image|video|illustration|pictured|cover\s+photo|main\s+image|"
    r"top\s+image|header\s+image|featured\s+image)(?:\s+credits?)?\s*:"
    r"|(?:picture|photo|image)\s+credits?\s*:"
    r"|\((?:photo|picture|image)s?\s+(?:by|courtesy|credit|:)[^)]*\)\s*\.?$"
    r"|^(?:photo|picture|image)s?\s+(?:by|courtesy\s+of)\s"
    r"|^credits?\s*:"
    rf"|(?:[(/|]|\bvia\s|©)\s*[^()/:|]{{0,60}}\b{_CREDIT_WORDS}\b[^().]{{0,40}}\)?\s*$"
    r"|^!\[[^\]]*\]\([^)]*\)\s*$",
    re.IGNORECASE,
)


def is_picture_credit(line: Line) -> bool:
    if not _short(line, 30):
        return False
    if PICTURE_CREDIT_RE.search(line.text) or PICTURE_CREDIT_RE.search(line.plain):
        return True
    bold = BOLD_CREDIT_RE.search(line.text)
    if bold and ("/" in bold["credit"] or credited_agencies(bold["credit"])):
        return True
    slash = SLASH_CREDIT_RE.search(line.plain)
    if slash:
        parts = [p.strip() for p in slash["credit"].split("/")]
        return any(agency_name(p) for p in parts) or re.search(_CREDIT_WORDS, slash["credit"], re.I)
    return False


def is_standalone_credit(line: Line) -> bool:
    """A picture credit that is the whole line (so the line before it is the caption)."""
    text = line.text.strip()
    if not is_picture_credit(line):
        return False
    if re.match(r"^(?:\*\*[^*]+\*\*|\(.*\))\.?$", text):
        return True
    if re.match(r"^(?:picture|photo|image|credits?)\b", text, re.IGNORECASE):
        return True
    return SLASH_CREDIT_RE.fullmatch(line.plain.strip()) is not None or line.words <= 5


def is_byline(line: Line) -> bool:
    if TRAILER_RE.match(line.plain) and _short(line, 40):
        return True
    return line.at_top and bool(byline_name(line.plain))


def is_date_line_rule(line: Line) -> bool:
    if not _short(line, 12):
        return False
    return is_date_line(line.plain) and (line.at_top or has_date_prefix(line.plain))


def is_credit_line(line: Line) -> bool:
    """A line that is only an agency credit: "— AP", "(Reuters)", "AFP"."""
    if not _short(line, 6):
        return False
    match = CREDIT_LINE_RE.match(line.plain)
    text = match["agency"] if match else line.plain
    return bool(credited_agencies(text)) and all(
        agency_name(p) for p in re.split(r"\s*(?:/|,|&|(?i:\band\b)|\||\+|;)\s*", text.strip()) if p
    )


# "Home > Economy > Transport", "News » World"
BREADCRUMB_RE = re.compile(r"^[\w&'’.-]+(?:\s+[\w&'’.-]+){0,3}(?:\s+[>»›]\s+[\w&'’.-]+(?:\s+[\w&'’.-]+){0,3})+$")
URL = r"(?:https?://|www\.)\S+"
BARE_URL_RE = re.compile(rf"^(?:<{URL}>|{URL}|\[[^\]]*\]\({URL}\))$", re.IGNORECASE)
SOURCE_LINE_RE = re.compile(
    r"^(?:original(?:ly)?\s+(?:url|link|article|source|posted|published)(?:\s+(?:at|on|in))?|"
    r"source(?:\s+(?:url|link))?|via|read\s+(?:the\s+)?(?:original|full\s+(?:article|story))"
    r"(?:\s+(?:at|on|here))?|this\s+(?:article|story)\s+(?:was\s+)?(?:originally\s+)?"
    r"(?:appeared|published|first\s+appeared)\s+(?:on|in|at))\b\s*:?\s*(?:<?" + URL + r">?|\[.*\]\(.*\))?\s*$",
    re.IGNORECASE,
)


# Order matters only for the name a line gets when several rules fit it.
RULES: tuple[tuple[str, object], ...] = (
    ("comment form", lambda line: COMMENT_FORM.match(line.plain) is not None),
    ("comment form", _pattern(
        r"your\s+email\s+address\s+will\s+not\s+be\s+published|required\s+fields\s+are\s+marked|"
        r"save\s+my\s+name,?\s+email|notify\s+me\s+of\s+(?:new\s+|follow-up\s+)?(?:comments|posts)|"
        r"you\s+must\s+be\s+logged\s+in\s+to\s+(?:post|comment)|comments\s+are\s+closed",
        limit=40,
    )),
    ("spam notice", _pattern(
        r"\bto\s+reduce\s+spam\b|learn\s+how\s+your\s+comment\s+data\s+is\s+processed", limit=40
    )),
    ("share", _pattern(
        r"^(?:share\s+(?:this|on|via|the\s+story|the\s+article|article)\b|share\s*:?$|"
        r"click\s+to\s+(?:share|email|print|tweet)|tweet(?:\s+this)?\s*$|email\s+this|"
        r"print\s+(?:this\s+)?(?:article|page)?\s*$|follow\s+us\s+on\b|like\s+us\s+on\s+facebook|"
        r"(?:facebook|twitter|whatsapp|linkedin|telegram|pinterest|reddit|email)"
        r"(?:\s*[|,/]?\s*(?:facebook|twitter|x|whatsapp|linkedin|telegram|pinterest|reddit|email|print))+\s*$)",
        limit=15,
    )),
    ("cookie notice", _pattern(
        r"\b(?:we|this\s+(?:site|website))\s+uses?\s+cookies\b|\baccept\s+(?:all\s+)?cookies\b|"
        r"\bcookie\s+(?:policy|settings|preferences)\b",
        limit=50,
    )),
    ("picture credit", is_picture_credit),
    ("related link", _pattern(
        r"^(?:related(?:\s+(?:article|articles|story|stories|content|news|reading|coverage))?|"
        r"read\s+(?:more|also)|also\s+read|see\s+also|more\s+on\s+this(?:\s+story)?|recommended|"
        r"you\s+(?:may|might)\s+also\s+(?:like|be\s+interested\s+in)|further\s+reading|"
        r"more\s+(?:from|stories|news)\b[^.!?]*)\s*(?::|-|–|—|\||$)",
        limit=30,
    )),
    ("breadcrumb", lambda line: line.at_top and BREADCRUMB_RE.match(line.plain) is not None),
    ("bare url", lambda line: BARE_URL_RE.match(line.text.strip()) is not None),
    ("source line", lambda line: SOURCE_LINE_RE.match(line.text.strip()) is not None),
    ("byline", is_byline),
    ("header line", lambda line: line.at_top and _short(line, 30) and header_fields(line.plain) is not None),
    ("date line", is_date_line_rule),
    ("credit line", is_credit_line),
    ("subscription", _pattern(
        r"^(?:subscribe\b|sign\s+up\b|support\s+(?:our|independent|quality)\s+journalism|"
        r"become\s+a\s+(?:member|subscriber|supporter)|already\s+a\s+subscriber|donate\b|"
        r"get\s+(?:our|the)\s+(?:\w+\s+){0,2}newsletter|join\s+our\s+(?:\w+\s+)?(?:newsletter|mailing\s+list)|"
        r"(?:log|sign)\s+in\s+to\s+(?:continue|read)|subscribers?\s+only)"
        r"|\bsubscribe\s+to\s+our\s+(?:\w+\s+)?(?:newsletter|channel)|support\s+our\s+journalism",
        limit=30,
    )),
    ("copyright", _pattern(
        r"\ball\s+rights\s+reserved\b|^(?:copyright\s*)?(?:©|\(c\))|^copyright\s+\d{4}\b|"
        r"^©|may\s+not\s+be\s+(?:published|reproduced),?\s+broadcast",
        limit=30,
    )),
    ("advertisement", _pattern(
        r"^(?:advertisement|advertising|sponsored(?:\s+content)?|ad|"
        r"(?:story|article)\s+continues\s+(?:below|after)(?:\s+(?:this\s+)?(?:advertisement|ad))?|"
        r"scroll\s+to\s+continue(?:\s+with\s+content)?)\s*$",
        limit=8,
    )),
)


def boilerplate_rule(line: Line) -> str:
    """The name of the first boilerplate rule that `line` fits, or ""."""
    for name, rule in RULES:
        if rule(line):
            return name
    return ""


def is_comment_heading(line: Line) -> bool:
    """A line that opens the comment section: what follows it to the end is not the story."""
    return COMMENT_FORM.match(line.plain) is not None
