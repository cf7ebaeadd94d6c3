"""Which SMEs can still score at least a floor: conditions PostgreSQL answers from one GIN index.

Scoring every consenting SME that shares a word with a request is linear in the registry (a third of a
million SMEs at national size for a common word). The best candidates are found instead by asking for SMEs
that could score at least 1 − slack, for growing slack (`SLACKS`): each factor of `domain.matching` that would
lose more than the slack on its own becomes a condition on `smes.match_terms` (technology words, `prefecture
P`), on the industries, readiness, employees or the update time. Those are
necessary conditions, never sufficient: the SMEs that meet them are scored exactly as before, and once the
`limit`-th best of them scores at least the floor, no SME left out (each scoring below the floor) can be among
the best, ties included. The last slack asks only for a shared word: the whole field, as without bounds.

A technology is *whole* in an SME that has all its telling words (or, with none, its phrase): only then can
it be named word for word. Not whole, a technology loses at least `loss_if_not_whole` of its share.

The technologies and the region are asked together: an SME far from the sought prefectures has already lost the
region's share, so it needs more of the technologies whole than one in them (`_places`); each technology word
in a prefecture or a region is a lexeme of its own (`Aichi robot`, `Chubu region robot`: migration 0032), so the
index reads only the SMEs with the word there.

A bound's terms are alternatives (`Bound.terms`), each its own search of the index, never one tsquery ORing
them: the index evaluates a tsquery that ORs conjunctions for every SME holding any of its words (every SME with
`water` or `ai` anywhere, to find the few with both in Fukushima), where a conjunction alone is a merge of its
words' lists that skips what one of them lacks. At 3.4 million SMEs, the 16 alternatives of one three-technology
request with three prefectures: 150 ms as one tsquery, 21 ms as 16 searches (24,381 SMEs either way).

Slacks are tried from `SLACKS`, but once a try has found `limit` SMEs, the last of them scoring s, the next try
asks for 1 − s at once: at least `limit` SMEs score s or more, so that try is certain to be the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from domain import matching
from domain.filing import EmployeeRange
from domain.geography import region_of
from infra.candidate_tiers import EMPLOYEES_ANY, MARGIN, Tier, all_of, any_of, needs, tiers

SLACKS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
"""Tried in turn; 1.0 leaves only the shared-word condition, so the last try is the whole field."""
MAX_CLAUSES = 64
"""At most this many alternatives of whole technologies in one condition; past it, only a shared word is asked."""
MAX_PLACED = 256
"""At most this many words-in-a-prefecture in one alternative (`_placed`); past it, the prefecture is asked apart."""
ENUMERATED = 10
"""Sets of whole technologies are listed for up to this many sought technologies (2^10 sets)."""
NOTHING: tuple[str, ...] = ()
"""No alternative: terms no SME meets."""


@dataclass(frozen=True)
class SoughtTerms:
    """One sought technology as the index sees it: `any_word` matches an SME sharing a telling word with it (or
    naming it whole, for a technology without telling words), `every_word` one that has all of them; both
    tsquery texts, None when the technology has no word PostgreSQL indexes. `telling` counts its telling words,
    `words` are they (unquoted lexemes; empty for a technology without telling words)."""

    any_word: str | None
    every_word: str | None
    telling: int
    words: tuple[str, ...] = ()

    @classmethod
    def of(cls, phrase: str, words: list[str]) -> SoughtTerms:
        """From the technology's `phrase` (tsquery text, '' when nothing in it is indexed) and telling `words`."""
        if words:
            return cls(
                any_of([quoted(w) for w in words]), all_of([quoted(w) for w in words]), len(words), tuple(words)
            )
        if phrase:
            return cls(f"({phrase})", f"({phrase})", 0)
        return cls(None, None, 0)

    @property
    def loss_if_not_whole(self) -> float:
        """Missing a telling word, an SME finds at most telling − 1 of them: a match of at most PARTIAL × that
        share (none for a technology of one telling word or none)."""
        if self.telling < 2:
            return 1.0
        return 1.0 - matching.PARTIAL * (self.telling - 1) / self.telling


@dataclass(frozen=True)
class Bound:
    """What an SME needs to score at least `floor`: one of `terms` (tsquery texts over `match_terms`, each its
    own search of the index: an AND of words, or an OR of single words, as the index reads fast), employees in
    `employees`, updated at or after `updated_since` (None: any time), a JSIC division among `industries` (empty:
    any), a market abroad it wants to enter (`abroad`) and a certification (`certified`), each what its factor
    needs alone; and one of `tiers` (none: no more), what they need given the technologies it has whole
    (`infra.candidate_tiers`).

    The industry and readiness conditions are asked of the columns, not of `match_terms`, though it holds them
    too (`industry E`, `wants to go abroad`, `has certification`): most of the registry has them, and ANDing
    posting lists of millions of SMEs in the GIN index cost 200 ms a try at 3.4 million SMEs, where checking
    the few hundred rows the technology words leave costs nothing. Prefectures, each a few percent of the
    registry, stay in `terms`."""

    floor: float
    terms: tuple[str, ...]
    employees: EmployeeRange
    updated_since: datetime | None
    industries: tuple[str, ...] = ()
    abroad: bool = False
    certified: bool = False
    tiers: tuple[Tier, ...] = ()


def worth_trying(slacks: tuple[float, ...], sought: list[SoughtTerms], weights: matching.MatchWeights) -> list[float]:
    """The slacks of `slacks` worth trying first for these sought technologies (the last, 1.0, always kept). Which
    bound proves the best changes only how many SMEs are scored, never who ranks: a looser bound holds every SME a
    tighter one holds, so a try it would have proven, the looser one proves too.

    With three technologies or more, a bound asking every one of them whole (the slacks below what missing one
    loses, `loss_if_not_whole` of its share) proved the best in none of 56 bench requests at a million SMEs, and
    its tries cost about 100 ms a request; with two, the tightest (slack 0) proved it in 4 of 76, costing 22 ms
    a request in the others."""
    share = weights.normalised()["technology_fit"]
    wholes = [t for t in sought if t.every_word is not None]
    kept = list(slacks)
    if len(sought) >= 3 and wholes and share > 0:
        always_lost = sum(t.loss_if_not_whole for t in sought if t.every_word is None)
        least = share / len(sought) * (always_lost + min(t.loss_if_not_whole for t in wholes))
        kept = [slack for slack in slacks if slack + MARGIN >= least]
    elif len(sought) == 2:
        kept = [slack for slack in slacks if slack > 0]
    return kept or list(slacks[-1:])


def quoted(lexeme: str) -> str:
    """A lexeme as a tsquery operand: quoted, so nothing in it is read as an operator."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def bound(
    slack: float,
    sought: list[SoughtTerms],
    industries: list[str],
    prefectures: list[str],
    employees: EmployeeRange | None,
    weights: matching.MatchWeights,
    as_of: datetime,
) -> Bound | None:
    """The conditions for a score of at least 1 − `slack`; None when no SME can share a sought word."""
    shared = [t.any_word for t in sought if t.any_word is not None]
    if not shared:
        return None
    share = weights.normalised()
    room = slack + MARGIN
    places = _places(room, sought, prefectures, share)
    if places is None:
        return Bound(1.0 - slack, NOTHING, EMPLOYEES_ANY, None)
    # Each alternative of `places` holds only SMEs sharing a word already (a whole technology has its words, a word
    # in a prefecture is the SME's word). Asked again beside them, the shared words made the planner expect a few
    # SMEs where there are thousands (the selectivities of correlated words multiplied: 11 rows for 16,797), and
    # read them all rather than only those of the leading slice (907 -> 85 ms at a million SMEs).
    terms = tuple(places) if places else (any_of(shared),)
    need = needs(room, industries, employees, share, as_of)
    technologies = [(t.every_word, t.loss_if_not_whole) for t in sought]
    return Bound(
        1.0 - slack, terms, need.employees, need.updated_since, need.industries, need.abroad, need.certified,
        tiers(room, technologies, any_of(shared), industries, employees, share, as_of),
    )


def _places(
    room: float, sought: list[SoughtTerms], prefectures: list[str], share: dict[str, float]
) -> list[str] | None:
    """The technologies and the place an SME needs, together, to lose at most the room, as alternatives (tsquery
    texts; [] when a shared word is all it needs, None when no SME can lose so little): per region fit it may have
    (in a sought prefecture, in one of their regions, anywhere), the whole technologies it then needs for what the
    region fit leaves of the room (`_whole_sets`), in that place (`_placed`). Asked apart, each factor alone, a
    bound held every SME with one technology whole wherever it was (96,000 of a million for three technologies);
    together, one far from the sought prefectures needs more of them whole than one in them. An alternative asking
    the same technologies as a looser one is left out (the looser one holds its SMEs)."""
    regions: list[tuple[float, Place | None]] = [(0.0, None)]
    if prefectures:
        regions = [
            (0.0, Place(tuple(prefectures), False)),
            (share["region"] * (1 - matching.SAME_REGION), Place(tuple(prefectures), True)),
            (share["region"], None),
        ]
    alternatives: list[tuple[list[tuple[SoughtTerms, ...]], Place | None]] = []
    for loss, where in regions:
        wholes = _whole_sets(room - loss, sought, share["technology_fit"]) if loss <= room else None
        if wholes is not None:
            alternatives = [(kept, place) for kept, place in alternatives if kept != wholes]
            alternatives.append((wholes, where))
    if not alternatives:
        return None
    if any(wholes == [()] and where is None for wholes, where in alternatives):
        return []  # an alternative asking nothing: any SME sharing a word
    return list(dict.fromkeys(term for wholes, where in alternatives for term in _placed(wholes, where, sought)))


@dataclass(frozen=True)
class Place:
    """The sought `prefectures`, or (`region`) every prefecture of their regions."""

    prefectures: tuple[str, ...]
    region: bool

    def lexemes(self) -> list[str]:
        """How `match_terms` names a word in each place (migration 0032): `Aichi robot`, `Chubu region robot`;
        a prefecture of no region stands for itself."""
        if not self.region:
            return list(self.prefectures)
        regions = sorted({region_of(name) or "" for name in self.prefectures} - {""})
        return [f"{name} region" for name in regions] + [name for name in self.prefectures if not region_of(name)]

    def prefecture_terms(self) -> str:
        """The place as the prefectures' own lexemes, `prefecture Aichi`: every SME there."""
        names = list(self.prefectures)
        if self.region:
            names += matching.nearby_prefectures(names)
        return any_of([quoted(f"prefecture {name}") for name in names])


def _placed(wholes: list[tuple[SoughtTerms, ...]], where: Place | None, sought: list[SoughtTerms]) -> list[str]:
    """An SME with one of the sets of `wholes` whole in `where` (anywhere, when None; then `wholes` asks some
    technology), as alternatives: one per set and place. There, each telling word is asked as the SME's word in
    its prefecture or region (`Aichi robot`, `Chubu region robot`: migration 0032): the index reads the SMEs with
    that word there, where `prefecture P` read every SME of each prefecture (200 ms a try at a million SMEs for
    the 20 of two regions). A technology without telling words (only its phrase), or too many words to list, asks
    the prefectures apart, beside each set."""
    technologies = [all_of([t.every_word or "" for t in whole]) for whole in wholes if whole]
    if where is None:
        return technologies
    places = where.lexemes()
    if wholes == [()]:  # the place and any shared word: one OR of single words, which the index reads fast too
        named = [t for t in sought if t.any_word is not None]
        if all(t.words for t in named) and len(places) * sum(len(t.words) for t in named) <= MAX_PLACED:
            return [any_of([quoted(f"{place} {w}") for place in places for t in named for w in t.words])]
        technologies = [any_of([t.any_word or "" for t in named])]  # the prefectures alone hold SMEs sharing none
    else:
        words = [[w for t in whole for w in t.words] for whole in wholes]
        if all(t.words for whole in wholes for t in whole) and len(places) * sum(map(len, words)) <= MAX_PLACED:
            return [all_of([quoted(f"{place} {w}") for w in each]) for place in places for each in words]
    return [all_of([technology, where.prefecture_terms()]) for technology in technologies]


def _whole_sets(room: float, sought: list[SoughtTerms], weight: float) -> list[tuple[SoughtTerms, ...]] | None:
    """Which sought technologies must be whole for the technology fit to lose at most the room: the smallest
    sets that do, as alternatives ([()] when none need be; None when no SME can lose so little)."""
    if weight <= 0:
        return [()]
    budget = room * len(sought) / weight  # in shares of one technology
    always_lost = sum(t.loss_if_not_whole for t in sought if t.every_word is None)
    wholes = [t for t in sought if t.every_word is not None]
    if always_lost > budget:
        return None
    if len(wholes) > ENUMERATED:  # too many sets to list: all whole when none may be lost, else nothing asked
        losable = always_lost + min(t.loss_if_not_whole for t in wholes) <= budget
        return [()] if losable else [tuple(wholes)]
    smallest: list[set[int]] = []
    for size in range(len(wholes) + 1):
        for whole in map(set, combinations(range(len(wholes)), size)):
            lost = always_lost + sum(t.loss_if_not_whole for i, t in enumerate(wholes) if i not in whole)
            if lost <= budget and not any(kept <= whole for kept in smallest):
                smallest.append(whole)
    if set() in smallest or len(smallest) > MAX_CLAUSES:
        return [()]
    return [tuple(wholes[i] for i in sorted(kept)) for kept in smallest]
