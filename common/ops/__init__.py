"""Operator tools: the command line, the demo store generator and the expiry sweeper."""
