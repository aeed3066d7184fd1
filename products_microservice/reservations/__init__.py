"""Stock reservations over HTTP: hold, read, confirm and release (admin)."""
