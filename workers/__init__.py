"""Building workers from the list of workflows and activities."""
