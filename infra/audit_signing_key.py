"""The audit signing key as settings take it: AUDIT_SIGNING_KEY, a 32-byte Ed25519 seed in hex, refused when
malformed or too regular to be a secret; and the context the development key is derived from TOKEN_PEPPER with
(`infra.settings.Settings.audit_keys`)."""

from __future__ import annotations

DEV_AUDIT_KEY_CONTEXT = b"case-desk development audit signing key:"
MIN_DISTINCT_KEY_BYTES = 16
"""A random 32-byte seed has about 31 distinct bytes; fewer than 16 means a pattern, not a secret."""


def signing_seed(hex_key: str) -> bytes:
    """The 32-byte Ed25519 seed of AUDIT_SIGNING_KEY; ValueError when it is malformed or weak."""
    try:
        seed = bytes.fromhex(hex_key.strip())
    except ValueError:
        raise ValueError("AUDIT_SIGNING_KEY must be 64 hex characters (e.g. `openssl rand -hex 32`)") from None
    if len(seed) != 32:
        raise ValueError(f"AUDIT_SIGNING_KEY must be 64 hex characters, not {len(hex_key.strip())}")
    if len(set(seed)) < MIN_DISTINCT_KEY_BYTES:
        raise ValueError("AUDIT_SIGNING_KEY is too regular to be a secret: make one with `openssl rand -hex 32`")
    return seed
