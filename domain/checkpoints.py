"""Signed checkpoints: a Merkle root over every case's head, so a trail cut short or rewritten is noticed.

Signatures stop anyone without the key from writing events, but not the table's owner from deleting a case's
last events (the trail then simply ends earlier). A checkpoint pins, at one moment, every case's
(case id, last seq, head hash): the leaves of a Merkle tree (RFC 6962 hashing: leaf = sha256(0x00 + leaf text),
node = sha256(0x01 + left + right), the left subtree the largest power of two below the size), whose root is
signed with the audit key. A later trail that ends before a checkpoint's seq, or holds another hash there,
contradicts it. An inclusion proof shows one case's head is in a root without the other leaves.

Checkpoints chain: `prev` is the digest of the checkpoint before (64 zeros for the first), so one removed from
the checkpoint log is noticed too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.audit import GENESIS_HASH, canonical_json, canonical_time
from domain.chain_verification import ChainReport
from domain.signing import CHECKPOINT_CONTEXT, Keyring, Signer


class Head(BaseModel):
    """A case's head when a checkpoint was taken."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    seq: int
    head_hash: str

    def leaf(self) -> bytes:
        return hashlib.sha256(b"\x00" + f"{self.case_id}:{self.seq}:{self.head_hash}".encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two below `size` (size ≥ 2): the size of the left subtree."""
    return 1 << ((size - 1).bit_length() - 1)


def merkle_root(leaves: list[bytes]) -> bytes:
    """The root over `leaves` (sha256 of nothing for none)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    if len(level) == 1:
        return level[0]
    k = _split(len(level))
    return _node(merkle_root(level[:k]), merkle_root(level[k:]))


def inclusion_proof(leaves: list[bytes], index: int) -> list[str]:
    """The sibling hashes (hex, from the leaf up) proving `leaves[index]` is in `merkle_root(leaves)`."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), merkle_root(leaves[k:]).hex()]
    return [*inclusion_proof(leaves[k:], index - k), merkle_root(leaves[:k]).hex()]


def root_from_proof(leaf: bytes, index: int, size: int, proof: list[str]) -> bytes:
    """The root that `proof` leads to from `leaf` at `index` of `size` leaves; ValueError when it cannot."""
    if size <= 1:
        if proof or index != 0:
            raise ValueError("a proof for a tree of one leaf is empty")
        return leaf
    if not proof:
        raise ValueError("the proof is too short")
    k = _split(size)
    *inner, sibling = proof
    if index < k:
        return _node(root_from_proof(leaf, index, k, inner), bytes.fromhex(sibling))
    return _node(bytes.fromhex(sibling), root_from_proof(leaf, index - k, size - k, inner))


class Checkpoint(BaseModel):
    """One signed checkpoint: `root` over `cases` heads (ordered by case id), chained by `prev`. A `verified`
    one holds only heads whose whole trail the nightly verification had just checked (links, hashes and every
    signature): later verifications may start after them."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    cases: int
    root: str
    prev: str
    digest: str
    key_id: str
    signature: str
    verified: bool = False

    @property
    def name(self) -> str:
        return f"checkpoint {self.id} of {canonical_time(self.at)}"

    def problem(self, keyring: Keyring) -> str | None:
        """None when its digest and signature hold, else why not."""
        if statement_digest(self.id, self.at, self.cases, self.root, self.prev, self.verified) != self.digest:
            return f"{self.name} does not match its digest: it was altered"
        return keyring.check(CHECKPOINT_CONTEXT, self.digest, self.key_id, self.signature)


def statement_digest(id: int, at: datetime, cases: int, root: str, prev: str, verified: bool = False) -> str:
    """sha256 of the canonical JSON `{"at","cases","id","prev","root"}`, with `"verified": true` in it for a
    verified checkpoint (so the digests of the ones before that mark are unchanged): what the signature covers."""
    fields: dict[str, object] = {"id": id, "at": canonical_time(at), "cases": cases, "root": root, "prev": prev}
    if verified:
        fields["verified"] = True
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


def make_checkpoint(id: int, at: datetime, heads: list[Head], prev: str | None, signer: Signer, *,
                    verified: bool = False) -> Checkpoint:
    """The signed checkpoint over `heads` (in the order given: by case id), after the one whose digest is `prev`."""
    root = merkle_root([head.leaf() for head in heads]).hex()
    prev = prev or GENESIS_HASH
    digest = statement_digest(id, at, len(heads), root, prev, verified)
    return Checkpoint(id=id, at=at, cases=len(heads), root=root, prev=prev, digest=digest, key_id=signer.key_id,
                      signature=signer.sign(CHECKPOINT_CONTEXT, digest), verified=verified)


def contradiction(hashes: Sequence[str], checkpoint: Checkpoint, head: Head) -> tuple[int, str] | None:
    """Where a case's trail (its events' `hashes`, by seq) contradicts what `checkpoint` holds of it: (seq,
    reason)."""
    if len(hashes) < head.seq:
        return len(hashes) + 1, (
            f"the trail ends at event {len(hashes)}, but {checkpoint.name} holds event {head.seq}: "
            f"events were removed"
        )
    if hashes[head.seq - 1] != head.head_hash:
        return head.seq, f"event {head.seq} is not the one {checkpoint.name} holds: the trail was rewritten"
    return None


class Anchor(BaseModel):
    """The latest checkpoint holding a case's head, and whether that checkpoint itself holds (signature, root)."""

    model_config = ConfigDict(frozen=True)

    checkpoint: Checkpoint
    head: Head
    problem: str | None = None


UNHELD = "it is unsigned and not held by any checkpoint: not written by the Case Desk"
"""Why an unsigned event no signed checkpoint holds is a break (README, "For auditors": "Unsigned events")."""


def held_through(anchor: Anchor | None) -> int:
    """The last seq of a case that a signed checkpoint holds: its anchor's head, when the checkpoint itself holds
    (signature, root); 0 for none."""
    return anchor.head.seq if anchor is not None and anchor.problem is None else 0


def unheld(report: ChainReport, anchor: Anchor | None) -> int | None:
    """The seq of the first unsigned event of `report`'s chain that its anchor does not hold, or None.

    The unsigned events a verifier counts (`ChainReport.unsigned`) are the chain's first ones, 1 to `unsigned`:
    one after a signed event is a break already (`domain.chain_verification.chain_links`). An unsigned event is the
    Case Desk's only when a signed checkpoint holds it — from before signing began, and anchored then (README) —
    since anyone who can write the table can write one, or strip an event's signature columns: beyond the anchor's
    head (none: 0) each is a break, the first at `held_through(anchor) + 1`. Whether the chain from there agrees with
    the checkpointed head is `contradiction`'s question."""
    held = held_through(anchor)
    return held + 1 if report.unsigned > held else None


def anchored(report: ChainReport, hashes: Sequence[str], anchor: Anchor | None) -> ChainReport:
    """`report` (of the events whose `hashes` are given, by seq) with what the case's latest checkpoint says: a
    trail intact in itself but cut short or rewritten since the checkpoint is broken, and the report names the
    checkpoint; an unsigned event the checkpoint does not hold (`unheld`) is broken at its seq. Every verifier
    takes its verdict from here: the case's (API, `alliance audit verify --case`), the whole trail's (streamed,
    nightly) and the retention's; the evidence pack's checker writes the same rule out again (it runs alone)."""
    if anchor is not None and anchor.problem is not None:
        if not report.valid:
            return report
        return report.model_copy(update={"valid": False, "reason": anchor.problem,
                                         "checkpoint": anchor.checkpoint.name})
    loose = unheld(report, anchor)
    if not report.valid:
        if loose is None or (report.first_broken_seq is not None and report.first_broken_seq <= loose):
            return report
        return report.model_copy(update={"first_broken_seq": loose, "reason": UNHELD, "checkpoint": None})
    found = contradiction(hashes, anchor.checkpoint, anchor.head) if anchor is not None else None
    if found is not None:
        seq, reason = found
        return report.model_copy(update={"valid": False, "first_broken_seq": seq, "reason": reason,
                                         "checkpoint": anchor.checkpoint.name if anchor is not None else None})
    if loose is not None:
        return report.model_copy(update={"valid": False, "first_broken_seq": loose, "reason": UNHELD})
    return report


def anchor_of(checkpoint: Checkpoint, heads: list[Head], case_id: str, keyring: Keyring) -> Anchor | None:
    """The anchor `checkpoint` (with all its `heads`, in order) gives `case_id`; None when it does not hold it."""
    head = next((h for h in heads if h.case_id == case_id), None)
    if head is None:
        return None
    return Anchor(checkpoint=checkpoint, head=head, problem=checkpoint_problem(checkpoint, heads, keyring))


def checkpoint_problem(checkpoint: Checkpoint, heads: list[Head], keyring: Keyring) -> str | None:
    """None when the checkpoint's signature holds and its stored heads give its root, else why not."""
    problem = checkpoint.problem(keyring)
    if problem is not None:
        return f"{checkpoint.name}: {problem}"
    if len(heads) != checkpoint.cases or merkle_root([h.leaf() for h in heads]).hex() != checkpoint.root:
        return f"the heads stored for {checkpoint.name} do not give its signed root: they were altered"
    return None
