"""The nightly verification of every audit chain: its summary, its own audit event, and the auditors' e-mail.

Its results go into an audit chain of their own (the oversight chain), so that "was the trail checked, and
what was found" is itself part of the tamper-evident record.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

OVERSIGHT_CHAIN = str(uuid.UUID("00000000-0000-4000-8000-0000000a0d17"))
"""The case id of the oversight chain: events about the audit trail itself, not about a case."""
OVERSIGHT_STAGE = "oversight"
VERIFIED_EVENT = "audit_verified"


class BrokenChain(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    first_broken_seq: int | None
    reason: str | None


class VerificationSummary(BaseModel):
    """What one verification of the whole trail found."""

    model_config = ConfigDict(frozen=True)

    run: str
    chains: int
    events: int
    broken: list[BrokenChain]

    @property
    def intact(self) -> bool:
        return not self.broken


def verification_mail(language: str, summary: VerificationSummary) -> tuple[str, str]:
    """Subject and body of the e-mail auditors get when a verification finds a broken chain."""
    lines = "\n".join(f"- {b.case_id}: event {b.first_broken_seq}: {b.reason}" for b in summary.broken)
    if language == "ja":
        return (
            f"[Case Desk] 監査証跡の検証で改ざんの疑い（{len(summary.broken)}件）",
            f"{summary.chains}件のチェーン（{summary.events}イベント）を検証し、次の破損を検出しました。\n\n{lines}\n\n"
            "`alliance audit verify` で確認してください。",
        )
    return (
        f"[Case Desk] Audit verification found {len(summary.broken)} broken chain(s)",
        f"Verified {summary.chains} chain(s), {summary.events} event(s); these are broken:\n\n{lines}\n\n"
        "Check with `alliance audit verify`.",
    )
