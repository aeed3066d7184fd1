"""The fixtures package, loaded for every test: databases, app clients, factories."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.clients",
    "tests.fixtures.dashboard",
    "tests.fixtures.galera",
    "tests.fixtures.receiver",
]
