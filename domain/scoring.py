"""The matching score of one SME against the technologies sought, with a reason an officer can read."""

from __future__ import annotations

from typing import Any

from domain.model import Candidate


def score_sme(sme: dict[str, Any], sought: list[str]) -> Candidate:
    held = str(sme["technologies"]).lower()
    matched = [tech for tech in sought if tech.lower() in held]
    fit = round(len(matched) / len(sought), 4) if sought else 0.0
    reason = (
        f"{' + '.join(matched) or 'no sought technology'} match {len(matched)} of {len(sought)} sought "
        f"technologies; {sme['prefecture']}; {sme['employees']} employees"
    )
    return Candidate(
        sme_id=sme["id"], name=sme["name"], score=fit, factors={"technology_fit": fit}, reason=reason
    )
