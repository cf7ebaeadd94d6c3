"""Pure rules of the Global Alliance scheme: no I/O, no Temporal, no database."""
