"""Who wrote an audit event: Ed25519 signatures over each event's chain hash, and the keys that check them.

A hash chain proves order, not authorship: anyone who can write the table can compute the next link. So the
recording step signs every event's `hash` (64 hex characters, which already covers the case, the seq, the
previous hash and the content) with a key that is not in the database. Signing the hash, not a re-serialisation
of the event, keeps it to one Ed25519 operation per event, and redaction (which leaves every hashed column as
it was) leaves the signature valid.

Shapes:
* a key id is the first 16 hex characters of sha256(raw 32-byte public key): derived, never configured;
* a signature is 128 hex characters (64 bytes) over ``EVENT_CONTEXT + hash`` (ASCII), or over
  ``CHECKPOINT_CONTEXT + …`` for checkpoints, so one can never stand in for the other.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError

EVENT_CONTEXT = b"case-desk/audit-event/v1:"
CHECKPOINT_CONTEXT = b"case-desk/audit-checkpoint/v1:"
SIGNATURE_BYTES = 64


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(public: bytes) -> str:
    """The id of a public key (32 raw bytes): 16 hex characters of its sha256."""
    return hashlib.sha256(public).hexdigest()[:16]


def public_key(hex_key: str) -> Ed25519PublicKey:
    """A public key from its 64 hex characters; ValueError when it is not one."""
    raw = bytes.fromhex(hex_key.strip())
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 64 hex characters, not {len(hex_key.strip())}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class Keyring:
    """The public keys a verifier accepts, by key id: the current signing key's and every earlier one's.

    Signatures are checked with libsodium (`crypto_sign_open`: RFC 8032 with its canonical-encoding and
    small-order checks), which verifies in about half the time OpenSSL takes through `cryptography` on this
    machine (about 75 µs against 150 µs a signature): the verifiers check one per case at least."""

    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    _raw: Mapping[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_raw", {key_id: raw_public(key) for key_id, key in self.keys.items()})

    @classmethod
    def of(cls, publics: list[Ed25519PublicKey]) -> Keyring:
        return cls({key_id_of(raw_public(key)): key for key in publics})

    def published(self) -> list[dict[str, str]]:
        """What `GET /api/audit/keys` and evidence packs show: each key's id, algorithm and hex public key."""
        return [{"key_id": kid, "algorithm": "Ed25519", "public_key": raw_public(key).hex()}
                for kid, key in sorted(self.keys.items())]

    def check(self, context: bytes, message: str, key_id: str | None, signature: str | None) -> str | None:
        """None when `signature` is `key_id`'s over `context + message`, else why not."""
        if key_id is None or signature is None:
            return "it is not signed"
        key = self._raw.get(key_id)
        if key is None:
            return f"it is signed with key {key_id}, which is not a known audit key"
        try:
            raw = bytes.fromhex(signature)
            if len(raw) != SIGNATURE_BYTES:
                raise ValueError(f"a signature is {SIGNATURE_BYTES} bytes")
            crypto_sign_open(raw + context + message.encode(), key)
        except (CryptoError, ValueError):
            return f"its signature does not hold under key {key_id}: it was not written by the Case Desk"
        return None

    def check_all(self, context: bytes, items: Sequence[tuple[str, str | None, str | None]]) -> list[str | None]:
        """`check` of each (message, key_id, signature), in order. Safe to call from several threads at once:
        the Ed25519 work runs without Python's lock, so threads checking parts of a long list share the cores."""
        return [self.check(context, message, key_id, signature) for message, key_id, signature in items]


@dataclass(frozen=True)
class Signer:
    """The current signing key (its private part never leaves the process that records events)."""

    private: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @functools.cached_property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @functools.cached_property
    def key_id(self) -> str:
        """Worked out once per signer: every recorded event names it (issue 15)."""
        return key_id_of(raw_public(self.public))

    def sign(self, context: bytes, message: str) -> str:
        """128 hex characters; Ed25519 is deterministic, so a retried step writes the same signature."""
        return self.private.sign(context + message.encode()).hex()


@dataclass(frozen=True)
class AuditKeys:
    """The signer of new events and checkpoints, and the keyring that verifies old and new ones."""

    signer: Signer
    keyring: Keyring
