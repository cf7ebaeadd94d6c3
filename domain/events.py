"""Names of the audit events that are not actions, and of the filing step.

Every action of `domain.model.Action` records an event named after it; besides those, a case's trail holds its
filing (`FILED`, recorded by the `FILE` step), the service-level timers' events and the retention job's erasure
of personal data. Each name is written here once; the workflow, the activities, the views, the notifications
and the cross-check all use these.
"""

from __future__ import annotations

from domain.audit import REDACTION_EVENT

FILE = "file"
"""The step that files a case (the workflow's filing Update carries this name)."""
FILED = "filed"
"""The event the filing records."""
REMINDER = "reminder"
ESCALATION = "escalation"
EXPIRED = "expired"
REDACTION = REDACTION_EVENT
MAIL_UNDELIVERABLE = "mail_undeliverable"
"""One of the case's e-mails was refused for good (the mail relay says so; staff see it on the case)."""

CONSENT_WITHDRAWN = "consent_withdrawn"
"""Candidates of the case withdrew their consent to be matched in the registry (an import said so): payload
`{"sme_ids": [...]}`; they go no further in the case (`domain.rules.consent_refusal`)."""

VOIDED = "events_voided"
"""Events recorded in a workflow task that was lost, which the case never took, are void: payload
`{"from_seq": .., "to_seq": .., "reason": ..}` (`domain.voiding`)."""

SYSTEM_EVENTS = frozenset({REMINDER, ESCALATION, EXPIRED, REDACTION, MAIL_UNDELIVERABLE, CONSENT_WITHDRAWN, VOIDED})
"""Events no action causes: the service-level timers', the retention job's erasure of personal data, the
mail relay's undeliverable messages, the registry's withdrawals of consent and the voiding of events no workflow
took."""
