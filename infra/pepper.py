"""Whether a `TOKEN_PEPPER` is strong enough for production (issue 19).

Every token hash, CSRF token and demo token is keyed by the pepper: a guessable one hands out every token.
Production refuses a pepper that is

- shorter than `MIN_PEPPER_BYTES` bytes (32: what `openssl rand -hex 32` or `-base64 32` give, and more);
- a documented placeholder or the development value, whatever its case or the whitespace, hyphens, underscores or
  other punctuation around or inside it (`change_me`, `CHANGE-ME-to-a-long-random-secret` with digits appended);
- holding whitespace anywhere (a copied newline is another secret than the one meant; a sentence is no secret);
- not entropy-looking: fewer than `MIN_PEPPER_BITS` bits by a Shannon estimate (length × entropy of the
  frequencies of what it is made of; 64 random hex digits give about 240, 44 base64 characters about 215, `x`
  repeated or a sentence far less), taking the least of three readings so a pattern counts as what it is:
  its characters; the unit it repeats, once (`abcabc…`, `0123456789abcdef` four times: one unit's worth); the
  steps between neighbouring characters (`abcdefgh…`, `0123456789…`: steps of one, nearly nothing).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

DEV_PEPPER = "dev-pepper-change-me"
PLACEHOLDERS = (DEV_PEPPER, "CHANGE-ME-to-a-long-random-secret", "change-me", "changeme")
"""The development value and the placeholders the deployment examples show (`infra/deploy/`)."""
MIN_PEPPER_BYTES = 32
MIN_PEPPER_BITS = 160
HOW_TO_MAKE_ONE = "e.g. `openssl rand -hex 32`"


def _folded(text: str) -> str:
    """Letters and digits only, case folded: `Change_Me`, `change-me` and `CHANGEME` read the same."""
    return re.sub(r"[\W_]+", "", text).casefold()


def _shannon_bits(symbols: Sequence[object]) -> float:
    """Length × Shannon entropy of the symbols' own frequencies (bits); 0 when there are none."""
    counts = Counter(symbols)
    total = len(symbols)
    return -total * sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


def _repeated_unit(text: str) -> str:
    """The shortest start of `text` that it repeats to its end (`abcab` → `abc`); `text` itself if none does."""
    for period in range(1, len(text) // 2 + 1):
        if all(text[i] == text[i - period] for i in range(period, len(text))):
            return text[:period]
    return text


def estimated_bits(text: str) -> float:
    """The least of three Shannon estimates (bits): over the characters, over one repeated unit, and over the
    steps between neighbouring characters (code point differences); 0 for an empty text."""
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(text)]
    return min(_shannon_bits(text), _shannon_bits(_repeated_unit(text)), _shannon_bits(steps) if steps else 0.0)


def weak_pepper_reason(pepper: str) -> str | None:
    """Why `pepper` may not be used in production, as one line naming the setting; None when it may."""
    folded = _folded(pepper)
    if any(_folded(placeholder) in folded for placeholder in PLACEHOLDERS):
        return ("TOKEN_PEPPER is the development value or a documented placeholder: "
                f"set a secret of your own ({HOW_TO_MAKE_ONE})")
    if re.search(r"\s", pepper):
        return f"TOKEN_PEPPER holds whitespace: set random material without any ({HOW_TO_MAKE_ONE})"
    if len(pepper.encode()) < MIN_PEPPER_BYTES:
        return (f"TOKEN_PEPPER has {len(pepper.encode())} bytes: production needs at least {MIN_PEPPER_BYTES} "
                f"random ones ({HOW_TO_MAKE_ONE})")
    if estimated_bits(pepper) < MIN_PEPPER_BITS:
        return (f"TOKEN_PEPPER does not look random (about {estimated_bits(pepper):.0f} bits, "
                f"at least {MIN_PEPPER_BITS} needed): {HOW_TO_MAKE_ONE}")
    return None
