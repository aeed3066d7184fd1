"""Payment providers of wallet top-ups, and their signed callbacks."""
