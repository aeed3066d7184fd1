"""Which new passwords are refused as too easy to guess: pure functions, no web framework.

A new password (registration, an admin's new account, a password change) is refused when it
is on the shipped list of common passwords (`common_passwords.txt`, compared
case-insensitively and without surrounding spaces), or has fewer than
`MIN_DISTINCT_CHARACTERS` distinct characters (`aaaaaaaa`, `12121212`, eight spaces). The
refusal is a 422 naming the field: a JSON schema cannot state it, so the spec says so in
words. Passwords already set are not re-checked; they are only ever compared.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

MIN_DISTINCT_CHARACTERS = 4


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = files("common.identity").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def weakness(password: str) -> str | None:
    """Why `password` is refused as a new password, or `None` when it is not."""
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return f"the password needs at least {MIN_DISTINCT_CHARACTERS} different characters"
    if password.strip().casefold() in common_passwords():
        return "the password is one of the most common passwords; choose another"
    return None
