"""Use cases (the case desk) and read-model queries; they raise domain errors, never HTTP ones."""
