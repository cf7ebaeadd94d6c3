"""Whether a `TOKEN_PEPPER` is strong enough for production (issue 19).

Every token hash, CSRF token and demo token is keyed by the pepper: a guessable one hands out every token.
Production refuses a pepper that is

- shorter than `MIN_PEPPER_BYTES` bytes (32: what `openssl rand -hex 32` or `-base64 32` give, and more);
- a documented placeholder or the development value, whatever its case or the whitespace around or inside it;
- holding whitespace anywhere (a copied newline is another secret than the one meant; a sentence is no secret);
- not entropy-looking: fewer than `MIN_PEPPER_BITS` bits by a Shannon estimate over its own characters
  (length × entropy of its character frequencies; 64 random hex digits give about 240, 44 base64 characters
  about 215, `x` repeated or a sentence far less).
"""

from __future__ import annotations

import math
import re
from collections import Counter

DEV_PEPPER = "dev-pepper-change-me"
PLACEHOLDERS = (DEV_PEPPER, "CHANGE-ME-to-a-long-random-secret", "change-me", "changeme")
"""The development value and the placeholders the deployment examples show (`infra/deploy/`)."""
MIN_PEPPER_BYTES = 32
MIN_PEPPER_BITS = 160
HOW_TO_MAKE_ONE = "e.g. `openssl rand -hex 32`"


def _folded(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def estimated_bits(text: str) -> float:
    """Length × Shannon entropy of the text's own character frequencies (bits); 0 for an empty text."""
    counts = Counter(text)
    total = len(text)
    return -total * sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


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
