"""What a foreign company files (`FilingRequest`, the body of `POST /api/cases`): the company, its contact person,
the partner it seeks and the investment it looks for."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, HttpUrl, UrlConstraints, model_validator

from domain.base_models import Frozen, Input
from domain.door import checking
from domain.fields import (
    Amount,
    Code,
    CountryCode,
    EmailAddress,
    Employees,
    JsicDivision,
    Name,
    PrefectureName,
    SomeEmployees,
    Text,
    at_least,
)


class Company(Frozen):
    name: Name
    country: CountryCode
    industry: Name
    website: Annotated[HttpUrl, UrlConstraints(max_length=2000)] | None = None
    description: Text


class Contact(Frozen):
    name: Name
    email: EmailAddress
    language: Literal["en", "ja"] = "en"


AllianceType = Literal["capital_alliance", "joint_investment", "fund_lp", "business_tieup"]


class EmployeeRange(Frozen):
    """The company size a foreign partner looks for, in employees."""

    min: Employees = 0
    max: SomeEmployees

    @model_validator(mode="after")
    def ordered(self) -> EmployeeRange:
        if self.min > self.max:
            raise ValueError("min may not exceed max")
        return self


Technology = Name


class Seeking(Frozen):
    technologies: list[Technology] = Field(min_length=1, max_length=20)
    industries: list[JsicDivision] = Field(default_factory=list, max_length=20, description="JSIC division letters")
    prefectures: list[PrefectureName] = Field(default_factory=list, max_length=47)
    alliance_types: list[AllianceType] = Field(min_length=1, max_length=4)
    employees: EmployeeRange | None = Field(None, description="Preferred company size (a ranking factor).")


class Ticket(Frozen):
    """The investment the company looks for, in whole yen: `min` ≤ `max`."""

    min: Annotated[Amount, at_least(0)]  # at_least: what was asked before the door's rules (stored ones keep it)
    max: Annotated[Amount, at_least(1)]

    @model_validator(mode="after")
    def ordered(self) -> Ticket:
        if checking() and self.min > self.max:
            raise ValueError(f"min ({self.min}) may not exceed max ({self.max})")
        return self


class FilingRequest(Input):
    """What a foreign company asks for; the body of `POST /api/cases`."""

    company: Company
    contact: Contact
    seeking: Seeking
    ticket_jpy: Ticket
    offers: Text
    on_behalf_of: Code | None = Field(
        None, description="The applicant company's code, when a coordinator files on its behalf."
    )
