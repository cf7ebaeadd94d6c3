"""How a candidate SME is scored against a case's request: named factors, weights, and the reason.

Every factor lies in [0, 1]; the score is their weighted mean, and equal scores are ordered by corporate
number. The matching engine (`infra/candidate_query.py`, its factors in `infra/candidate_factors.py`) computes the
same factors in SQL to rank 100,000 SMEs without fetching them; these functions are the definition it is tested
against, factor by factor and for the score (tests/integration/test_matching.py), and `Explanation` writes the
reason an officer reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.base_models import Frozen
from domain.filing import EmployeeRange
from domain.geography import PREFECTURE_BY_NAME, region_of

FACTORS = ("technology_fit", "industry", "region", "size_fit", "readiness")
EXACT = 1.0
"""A sought technology named in the SME's technologies, word for word (after stemming)."""
PARTIAL = 0.5
"""At most what a partly matched technology earns, in proportion to the share of its telling words found."""
GENERIC_WORDS = (
    "system systems process processing making manufacturing product products technology technologies "
    "material materials equipment component components device devices part parts service services "
    "solution solutions industrial general"
)
"""Words too common in technology names to tell one field from another: sharing only these is no match."""
SAME_REGION = 0.5
"""A prefecture not sought but in the same region as one that is."""
SIZE_FALLOFF = 8.0
"""A company this many times too large (or too small) has no size fit left."""
FRESH_FOR = timedelta(days=365)
"""A registry entry updated within a year is current."""


class MatchWeights(Frozen):
    """The weight of each factor (settings `MATCH_WEIGHT_*`); they need not add up to one."""

    technology_fit: float = 0.5
    industry: float = 0.15
    region: float = 0.1
    size_fit: float = 0.1
    readiness: float = 0.15

    def normalised(self) -> dict[str, float]:
        total = sum(getattr(self, name) for name in FACTORS)
        if total <= 0:
            raise ValueError("at least one matching weight must be positive")
        return {name: getattr(self, name) / total for name in FACTORS}


def technology_match(exact: bool, words_found: int, words: int) -> float:
    """One sought technology with `words` telling words (its words less `GENERIC_WORDS`), `words_found` of
    them among the SME's: named whole, EXACT; else, with two telling words or more, PARTIAL × the share found;
    else nothing (a technology of one telling word is named whole or not at all)."""
    if exact:
        return EXACT
    return PARTIAL * words_found / words if words >= 2 else 0.0


def technology_fit(matches: list[float]) -> float:
    """The mean of the sought technologies' `technology_match` values."""
    return sum(matches) / len(matches) if matches else 0.0


def industry_fit(industries: list[str], sought: list[str]) -> float:
    """Any shared JSIC division fits; a request naming none is indifferent."""
    return 1.0 if not sought or set(industries) & set(sought) else 0.0


def nearby_prefectures(sought: list[str]) -> list[str]:
    """Prefectures in the same region as a sought one, but not sought themselves."""
    regions = {region_of(name) for name in sought} - {None}
    return sorted(name for name, p in PREFECTURE_BY_NAME.items() if p.region in regions and name not in sought)


def region_fit(prefecture: str, sought: list[str]) -> float:
    if not sought or prefecture in sought:
        return 1.0
    return SAME_REGION if prefecture in nearby_prefectures(sought) else 0.0


def size_fit(employees: int, wanted: EmployeeRange | None) -> float:
    """Inside the wanted range fits; outside, the fit falls with how many times too big or small it is."""
    if wanted is None or wanted.min <= employees <= wanted.max:
        return 1.0
    ratio = employees / wanted.max if employees > wanted.max else wanted.min / max(employees, 1)
    return max(0.0, 1.0 - math.log(ratio) / math.log(SIZE_FALLOFF))


def readiness(overseas_interest: list[str], certifications: list[str], updated_at: datetime, as_of: datetime) -> float:
    """Ready to partner abroad: wants to go overseas, holds a certification, keeps its entry current."""
    return 0.5 * bool(overseas_interest) + 0.25 * bool(certifications) + 0.25 * (updated_at >= as_of - FRESH_FOR)


def combined_score(factors: dict[str, float], weights: MatchWeights) -> float:
    """The weighted mean of the factors (shown rounded to four places)."""
    return sum(weight * factors[name] for name, weight in weights.normalised().items())


@dataclass(frozen=True)
class Explanation:
    """What an officer needs to see in one line about why an SME was proposed."""

    exact: list[str]
    partial: list[str]
    sought: int
    prefecture: str
    employees: int
    certifications: list[str]

    def reason(self) -> str:
        found = " + ".join(self.exact) if self.exact else "no sought technology"
        parts = [f"{found} match {len(self.exact)} of {self.sought} sought technologies"]
        if self.partial:
            parts[0] += f" ({', '.join(self.partial)} in part)"
        parts.append(self.prefecture)
        parts.append(f"{self.employees} employees")
        if self.certifications:
            parts.append(", ".join(self.certifications))
        return "; ".join(parts)
