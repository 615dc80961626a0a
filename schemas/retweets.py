"""The retweet prefix of a post's text ("RT @user :"): who passed the post on. Provenance of the
post (``Post {retweet_of}`` in the graph), never an entity of it."""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

# Anywhere in the text: MNRE's tokenisation puts spaces around the colon, and chained retweets
# repeat the prefix.
_RETWEET = re.compile(r"(?<![\w@])RT\s+(@\w{1,30})\s*:?", re.IGNORECASE)


def retweet_spans(text: str) -> List[Tuple[int, int, str]]:
    """(start, end, handle) of every "RT @user :" in ``text``."""
    return [(m.start(), m.end(), m.group(1)) for m in _RETWEET.finditer(text)]


def retweet_of(text: str) -> Optional[str]:
    """The account a post retweets (its first "RT @user"), without the @; None for no retweet."""
    spans = retweet_spans(text)
    return spans[0][2][1:] if spans else None
