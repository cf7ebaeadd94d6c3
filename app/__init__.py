"""The composition root and the command line: wiring, `alliance`, the embedded stack; imported by nothing."""
