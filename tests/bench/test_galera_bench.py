"""The galera benchmark is registered and drives the script the tests run the cluster with."""

from __future__ import annotations

import os

from bench import galera
from bench.__main__ import SCENARIOS


def test_the_galera_scenario_is_registered_on_the_cluster_script() -> None:
    assert SCENARIOS["galera"] is galera.run
    assert os.access(galera.SCRIPT, os.X_OK)
    assert (galera.STORE.orders, galera.STORE.products) == (0, 200)
