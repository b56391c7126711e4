"""wiretrace: trace news stories to their sources.

    >>> import wiretrace
    >>> result = wiretrace.compare("rewrite.txt", "wire.txt")
    >>> result.verdict.verdict, result.verdict.direction.original

    >>> with wiretrace.Store("news.db") as store:
    ...     wiretrace.add(["crawl/"], store)
    ...     [c.source.article.id for c in wiretrace.sources("rewrite.txt", store)]
"""

from .api import add, compare, embed, read, show, sources, stories
from .corpus import scan
from .errors import (
    ConfigError,
    InputError,
    MissingExtraError,
    NotFoundError,
    StoreError,
    WiretraceError,
)
from .models import (
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
from .export import export
from .options import Options, load_options
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "Alignment",
    "Article",
    "ChangedFact",
    "Comparison",
    "ConfigError",
    "Direction",
    "Document",
    "InputError",
    "Labelled",
    "Match",
    "MissingExtraError",
    "NotFoundError",
    "Options",
    "Sentence",
    "Store",
    "StoreError",
    "Verdict",
    "WiretraceError",
    "__version__",
    "add",
    "compare",
    "embed",
    "export",
    "load_options",
    "read",
    "scan",
    "show",
    "sources",
    "stories",
]
