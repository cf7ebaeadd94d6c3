"""The HTTP API: thin routers that parse, ask the case desk, and map answers to statuses."""
