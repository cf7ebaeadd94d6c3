"""The case workflow's patches: each names a change of the commands it issues, which `workflow.patched` asks of
a run, so that histories written before the change replay as they were written."""

SERVICE_LEVEL_TIMERS = "service-level-timers"
QUIET_COMMANDS = "timers-and-search-attributes-only-when-changed"
PERSONAL_DATA_SALT = "personal-data-salt"
BOUNDED_CASE = "bounded-case-state"  # free text as references, candidates by id, hashing in the activity
STEP_FAILURES = "steps-fail-cleanly"  # a timer's step that fails for good waits, instead of failing the case
MAIL_RELAY = "mail-leaves-the-case"  # the mail relay sends the outbox: the workflow never waits for its mail
LOCAL_RECORDING = "updates-record-locally"  # an Update's event is written in the task that accepts it (issue 15)
UPDATES_FIRST = "signals-yield-to-updates"  # an Update in a signal's task records first (issue 15)
LOST_FILING = "take-a-filing-never-taken"  # a filing stored by a lost task whose Update never came back is taken
