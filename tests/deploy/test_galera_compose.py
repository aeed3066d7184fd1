"""The `galera` compose profile says what docs/scaling.md promises, read as YAML and text (no
Docker engine here; the same cluster runs for real in tests/e2e/test_galera.py through
deploy/galera/local-cluster.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

GALERA = Path(__file__).resolve().parents[2] / "deploy" / "galera"
COMPOSE: dict[str, Any] = yaml.safe_load((GALERA / "docker-compose.yml").read_text())
NODES = ("galera1", "galera2", "galera3")


def test_three_nodes_count_as_healthy_only_when_synced() -> None:
    services = COMPOSE["services"]
    for node in NODES:
        assert services[node]["image"] == "mariadb:10.11"
        assert "--galera_online" in services[node]["healthcheck"]["test"]
        assert f"--wsrep-node-name={node}" in services[node]["command"]
    # Each joiner waits for the node before it: one state transfer at a time.
    assert services["galera2"]["depends_on"]["galera1"]["condition"] == "service_healthy"
    assert services["galera3"]["depends_on"]["galera2"]["condition"] == "service_healthy"
    config = (GALERA / "galera.cnf").read_text()
    assert "wsrep_cluster_address=gcomm://galera1,galera2,galera3" in config
    assert "binlog_format=ROW" in config
    assert "innodb_autoinc_lock_mode=2" in config


def test_only_a_brand_new_volume_bootstraps_the_cluster() -> None:
    assert "--wsrep-new-cluster" not in str(COMPOSE["services"]["galera1"]["command"])
    start = (GALERA / "galera-start.sh").read_text()
    assert "grastate.dat" in start
    assert "--wsrep-new-cluster" in start


def test_two_replicas_of_each_service_reach_every_node_through_haproxy() -> None:
    services = COMPOSE["services"]
    for name in ("products", "sales"):
        service = services[name]
        assert service["deploy"]["replicas"] == 2
        environment = service["environment"]
        assert "@haproxy:3306/" in environment["DATABASE_URL"]
        assert (environment["DB_WSREP_SYNC_WAIT"], environment["DB_RETRY_ATTEMPTS"]) == ("1", "10")
    haproxy = (GALERA / "haproxy.cfg").read_text()
    for node in NODES:
        assert f"server {node} {node}:3306 check" in haproxy
    balancer = (GALERA / "haproxy-services.cfg").read_text()
    assert "server-template products 2 products:8000" in balancer
    assert "server-template sales 2 sales:8001" in balancer
    assert "option httpchk GET /ready" in balancer


def test_the_scripts_parse() -> None:
    for script in sorted(GALERA.glob("*.sh")):
        subprocess.run(["bash", "-n", str(script)], check=True)
