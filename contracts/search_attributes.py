"""Custom search attributes of case workflows: filterable in the Temporal UI, never personal data."""

from temporalio.common import SearchAttributeKey

CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
CASE_OUTCOME = SearchAttributeKey.for_keyword("CaseOutcome")
CASE_OFFICES = SearchAttributeKey.for_keyword_list("CaseOffices")
CASE_REFERENCE = SearchAttributeKey.for_keyword("CaseReference")

CASE_DUE_AT = SearchAttributeKey.for_datetime("CaseDueAt")
CASE_OVERDUE = SearchAttributeKey.for_bool("CaseOverdue")
CASE_ESCALATION = SearchAttributeKey.for_int("CaseEscalation")

ALL = (CASE_STAGE, CASE_OUTCOME, CASE_OFFICES, CASE_REFERENCE, CASE_DUE_AT, CASE_OVERDUE, CASE_ESCALATION)

# Names as the dev server's --search-attribute flag spells their types.
DEV_SERVER_TYPES: dict[str, str] = {
    CASE_STAGE.name: "Keyword",
    CASE_OUTCOME.name: "Keyword",
    CASE_OFFICES.name: "KeywordList",
    CASE_REFERENCE.name: "Keyword",
    CASE_DUE_AT.name: "Datetime",
    CASE_OVERDUE.name: "Bool",
    CASE_ESCALATION.name: "Int",
}
