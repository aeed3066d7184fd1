"""The stock ledger and what is read from it: movements, availability, levels, audit."""
