"""Adapters and wiring: settings, database, Temporal client, embedded stack, logging, command line."""
