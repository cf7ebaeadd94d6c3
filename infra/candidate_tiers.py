"""What an SME's other factors may lose, once its technologies have lost what they lose: a bound's tiers.

A bound (`infra.candidate_bounds`) asks of every SME what each factor alone would need with the whole room. But an
SME missing a sought technology has already lost at least that technology's share (`loss_if_not_whole`), and has
only what is left of the room for its industry, readiness and size. Each tier is a set of technologies an SME may
have whole (asked of its `search`, the same words as the matching index) with what its other factors then need
(`Needs`, worked out for the room less what the missing ones lose at least); an SME meets the bound only if it
meets one tier. The index still reads every SME of the bound's terms, but those that cannot reach the floor are left
at the table, not scored: at 3.4 million SMEs, a three-technology request whose best have two of them whole (injection
molding, blow molding, forging) scores 4,491 of the 40,247 SMEs its bound reads, 200 -> 146 ms, and another (signal
processing, semiconductor equipment, industrial robots) 223 -> 121 ms (best of four, pages in shared buffers, the
machine loaded). Where the pages are first read from the OS's cache, reading them takes most of the time.

Sound: an SME scoring at least the floor has some set of the technologies whole, and loses at least what the others
lose on them; so what is left of the room holds its other losses, its tier's needs (for at least that room) hold,
and it has that set whole. A tier for every set is listed (`TIERED_UP_TO` technologies at most), grouped by what is
left of the room into at most `TIERS`, each group asked with the most room of its sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from domain import matching
from domain.filing import EmployeeRange

MARGIN = 1e-6
"""Conditions are worked out for slack + MARGIN, so an SME left out scores clearly below the floor, whatever
the last bits of a double say."""
EMPLOYEES_ANY = EmployeeRange(min=0, max=2**31 - 1)
TIERS = 4
"""At most this many tiers in a bound: the scoring statement has one condition per tier (`infra.candidate_field`)."""
TIERED_UP_TO = 4
"""Tiers are listed for up to this many sought technologies with words (2^4 sets); past it, none."""


def any_of(operands: list[str]) -> str:
    """tsquery texts ORed."""
    return "(" + " | ".join(operands) + ")"


def all_of(operands: list[str]) -> str:
    """tsquery texts ANDed."""
    return "(" + " & ".join(operands) + ")"


@dataclass(frozen=True)
class Needs:
    """What an SME needs for its industry, readiness and size to lose at most some room: a JSIC division among
    `industries` (empty: any), a market abroad (`abroad`), a certification (`certified`), an update at or after
    `updated_since` (None: any time), employees in `employees`."""

    industries: tuple[str, ...]
    abroad: bool
    certified: bool
    updated_since: datetime | None
    employees: EmployeeRange


def needs(
    room: float, industries: list[str], employees: EmployeeRange | None, share: dict[str, float], as_of: datetime
) -> Needs:
    """What each of the other factors needs on its own to lose at most `room` (shares of the score)."""
    # readiness = ½ abroad + ¼ certification + ¼ updated within a year
    certified = share["readiness"] * 0.25 > room
    return Needs(
        tuple(industries) if industries and share["industry"] > room else (),
        share["readiness"] * 0.5 > room,
        certified,
        as_of - matching.FRESH_FOR if certified else None,
        _employees(room, employees, share["size_fit"]),
    )


def _employees(room: float, wanted: EmployeeRange | None, weight: float) -> EmployeeRange:
    """Headcounts whose size fit loses at most the room (a fit falls by 1 per SIZE_FALLOFF times off)."""
    if wanted is None or weight <= 0 or room >= weight:
        return EMPLOYEES_ANY
    factor = matching.SIZE_FALLOFF ** (room / weight)
    return EmployeeRange(min=math.floor(wanted.min / factor), max=math.ceil(wanted.max * factor))


@dataclass(frozen=True)
class Tier:
    """SMEs with one of some sets of technologies whole (`whole`, tsquery text over `smes.search`) and what their
    other factors need (`needs`)."""

    whole: str
    needs: Needs


def tiers(
    room: float,
    technologies: list[tuple[str | None, float]],
    shared: str,
    industries: list[str],
    employees: EmployeeRange | None,
    share: dict[str, float],
    as_of: datetime,
) -> tuple[Tier, ...]:
    """The tiers of a bound of `room`, loosest first; () when they would ask nothing more than the bound.

    `technologies`: each sought technology's `every_word` (None: never whole) and what it loses not whole (shares
    of one technology, `SoughtTerms.loss_if_not_whole`); `shared`: the tsquery of a shared word, what an SME with
    none of them whole has."""
    weight = share["technology_fit"]
    wholes = [(n, every_word) for n, (every_word, _) in enumerate(technologies) if every_word is not None]
    if weight <= 0 or not wholes or len(wholes) > TIERED_UP_TO:
        return ()
    left: dict[float, list[str]] = {}  # what is left of the room -> each set with that much left, as a tsquery
    for size in range(len(wholes), -1, -1):
        for whole in combinations(wholes, size):
            kept = {n for n, _ in whole}
            lost = weight / len(technologies) * sum(loss for n, (_, loss) in enumerate(technologies) if n not in kept)
            if lost <= room:
                left.setdefault(room - lost + MARGIN, []).append(all_of([w for _, w in whole]) if whole else shared)
    rooms = sorted(left, reverse=True)
    groups = [[room_left] for room_left in rooms[: TIERS - 1]] + ([rooms[TIERS - 1:]] if rooms[TIERS - 1:] else [])
    listed = tuple(
        Tier(any_of([term for room_left in group for term in left[room_left]]),
             needs(group[0], industries, employees, share, as_of))
        for group in groups
    )
    loosest = needs(room, industries, employees, share, as_of)
    return () if all(tier.needs == loosest for tier in listed) else listed
