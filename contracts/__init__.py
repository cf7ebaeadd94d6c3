"""What crosses Temporal: workflow, Update and activity names, their payloads, typed activity stubs, and the
names of the error and event types both ends read."""
