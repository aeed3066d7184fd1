"""The manager's dashboard: a static page served at `/dashboard/`, on the public APIs only."""
