"""wiretrace: trace news stories to their sources.

    >>> import wiretrace
    >>> result = wiretrace.compare("rewrite.txt", "wire.txt")
    >>> result.verdict.verdict, result.verdict.direction.original
"""

from .api import compare, embed, read
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
from .options import Options, load_options

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
    "StoreError",
    "Verdict",
    "WiretraceError",
    "__version__",
    "compare",
    "embed",
    "load_options",
    "read",
]
