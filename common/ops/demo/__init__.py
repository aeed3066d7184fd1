"""The demo store: a year of plausible history, so a new dashboard shows something at once."""
