"""Activities: the workflow's hands on PostgreSQL. Each is idempotent; each gets its dependencies."""
