"""One case's chain judged from its stored rows: links, hashes and signatures, held against its checkpoint.

The verdict every verifier gives: of one case read on its own (`case_verdict`, from `infra.audit_trail.case_rows`),
and of every case in one pass over the whole trail (`infra.streamed_verification`).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.chain_rows import Canonical, links
from domain.chain_verification import NO_EVENTS, ChainReport, SignatureCheck, by_head, settle
from domain.checkpoints import Anchor, anchored
from domain.signing import EVENT_CONTEXT, Keyring
from domain.stored_rows import Row
from domain.verification import OVERSIGHT_CHAIN


def case_verdict(case_id: str, rows: list[Row], keyring: Keyring, anchor: Anchor | None, *,
                 every_signature: bool = True) -> ChainReport:
    """One case's chain from its `case_rows`, as `infra.streamed_verification.verify_every_chain` judges it: links,
    hashes and signatures (every event's, or — not `every_signature` — its head's, and every event's when the head's
    fails), held against its latest checkpoint (`anchor`). A case on record with no row is broken at event 1
    (`NO_EVENTS`), unless a checkpoint holds it (then the checkpoint names what is missing)."""
    if not rows:
        if anchor is None:
            return ChainReport(valid=False, events=0, first_broken_seq=1, reason=NO_EVENTS)
        return anchored(ChainReport(valid=True, events=0), [], anchor)
    return anchored(*own_verdict(case_id, rows, keyring, every_signature=every_signature), anchor)


def own_verdict(case_id: str, rows: list[Row], keyring: Keyring, *,
                every_signature: bool = True) -> tuple[ChainReport, list[str]]:
    """What a case's chain (its `case_rows`, at least one) says of itself, before any checkpoint is asked: links,
    hashes and signatures as `case_verdict` checks them (its unsigned first events counted, not judged); with
    the events' hashes, by seq."""
    draft = draft_of(case_id, rows, None, every_signature, Canonical())
    settled = settle(draft.quick, draft.todo, keyring.check_all(EVENT_CONTEXT, _signatures(draft.todo)))
    if not settled.valid and len(draft.todo) < len(draft.checks):  # the head does not vouch: each event
        settled = settle(draft.report, draft.checks, keyring.check_all(EVENT_CONTEXT, _signatures(draft.checks)))
    return settled, draft.hashes


def _signatures(checks: list[SignatureCheck]) -> list[tuple[str, str | None, str | None]]:
    return [(hash_, key_id, signature) for _, hash_, key_id, signature in checks]


@dataclass
class Draft:
    """A case's chain checked but for its signatures: every one (`checks`) and those to check now (`todo`)."""

    case_id: str
    hashes: list[str]
    report: ChainReport
    checks: list[SignatureCheck]
    quick: ChainReport
    todo: list[SignatureCheck]


def draft_of(case_id: str, rows: list[Row], start: Anchor | None, every: bool, canonical: Canonical) -> Draft:
    """`chain_links` of a case's events, their signatures checked only after the head its latest verified
    checkpoint (`start`) holds; unless `every`, only the head's signature (`by_head`). The oversight chain is
    always checked event by event: its writer chains onto the stored head it reads (`activities.verification`).
    A case whose every event holds takes `quick_links`; any other, the exact path, which names its break."""
    through = None if start is None else (start.head.seq, start.head.head_hash)
    if rows:
        report, checks, hashes = links(rows, canonical, through)
    else:  # a case on record without any event (`infra.streamed_verification`)
        report, checks, hashes = ChainReport(valid=False, events=0, first_broken_seq=1, reason=NO_EVENTS), [], []
    quick, todo = (report, checks) if every or case_id == OVERSIGHT_CHAIN else by_head(report, checks)
    return Draft(case_id, hashes, report, checks, quick, todo)

