"""deploy/: the Prometheus alert rules pass `promtool check rules` (Debian's prometheus
package; `.ci/run` installs it), cover what the issue lists, and every query of the rules and
of the Grafana dashboard names only metrics the two services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from common.config import Settings
from common.db import Database
from common.migrations import REPO_ROOT
from common.ops.ledger_watch import audit_ledgers
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve
from tests.fixtures.databases import IN_CI

RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "ecommerce-manager.json"
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}
# PromQL words that look like identifiers but name no metric.
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # string literals
    stripped = re.sub(r"\{[^}]*\}", " ", stripped)  # label matchers
    stripped = re.sub(r"\[[^\]]*\]", " ", stripped)  # range selectors
    stripped = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped
    )  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w:.])[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        following = stripped[match.end() :].lstrip()
        if following.startswith("(") or match[0].lower() in KEYWORDS:
            continue  # a function or an operator
        names.add(match[0])
    return names


def rule_expressions() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture
async def exported(settings: Settings, isolated_database: Database) -> set[str]:
    """Every metric name either service shows on /metrics once it served a request and a
    readiness probe, and the ledger watch ran once."""
    await audit_ledgers(isolated_database)
    names: set[str] = set()
    for build in (build_products_app, build_sales_app):
        async for client in serve(build(settings=settings, database=isolated_database)):
            await client.get("/openapi.json")
            await client.get("/ready")
            names |= exported_names((await client.get("/metrics")).text)
    return names


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if IN_CI:
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus); CI runs this check")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_rules_cover_errors_latency_readiness_sweeper_lag_and_ledger_drift() -> None:
    rules: dict[str, Any] = dict(rule_expressions())
    selected = {name: metric_names(expression) for name, expression in rules.items()}
    assert "http_requests_total" in selected["EcommerceHigh5xxRate"]
    assert '"5.."' in rules["EcommerceHigh5xxRate"]
    assert "http_request_duration_seconds_bucket" in selected["EcommerceHighP99Latency"]
    assert "0.99" in rules["EcommerceHighP99Latency"]
    assert "readiness_status" in selected["EcommerceNotReady"]
    assert "sweeper_last_success_timestamp_seconds" in selected["EcommerceSweeperLagging"]
    assert "ledger_drift_rows" in selected["EcommerceLedgerDrift"]


def test_metric_names_are_read_from_promql() -> None:
    expression = (
        "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket"
        '{status=~"5..", handler="/x"}[5m]))) > 1 and on (service) time() - up offset 5m'
    )
    assert metric_names(expression) == {"http_request_duration_seconds_bucket", "up"}


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_query_names_only_metrics_the_services_export(
    source: str, exported: set[str]
) -> None:
    expressions = list(rule_expressions() if source == "rules" else dashboard_expressions())
    assert expressions
    unknown = {
        name: sorted(metric_names(expression) - exported)
        for name, expression in expressions
        if metric_names(expression) - exported
    }
    assert unknown == {}
    assert all(metric_names(expression) for _, expression in expressions)


def test_the_dashboard_is_grafana_json_with_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "ecommerce-manager"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert len(titles) == len(set(titles))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
