"""The Grafana dashboard in k8s/monitoring: a well-formed dashboard model provisioned by a
ConfigMap Grafana's sidecar picks up, with the panels an operator looks at first, every one of
which queries only metrics the gateway exports."""
import json

from manifests import ROOT, render
from test_alerts import exported_metric_names, metrics_in

DASHBOARD = ROOT / "k8s" / "monitoring" / "hubspot-gateway-dashboard.json"
# What an operator looks at first (issue 20): each must be a panel.
WANTED_PANELS = {
    "Fleet budget used vs limit, per bucket", "HubSpot calls per second and 429s", "Records per HubSpot call",
    "Cache hit ratio by tier", "Circuit breaker state per replica", "RPC rate by method and calling service",
    "RPC errors by code", "RPC latency p99 by method", "Budget queue wait per service (p95)",
    "Change-feed lag per consumer group", "Redis fallback per replica", "Resident memory per pod", "CPU per pod",
}


def panels(model: dict) -> list[dict]:
    return [p for p in model["panels"] if p["type"] != "row"]


def test_the_dashboard_is_a_valid_model_provisioned_by_a_labelled_configmap():
    model = json.loads(DASHBOARD.read_text())
    assert model["uid"] == "hubspot-gateway" and model["title"] and isinstance(model["schemaVersion"], int)
    assert {v["name"] for v in model["templating"]["list"]} >= {"datasource"}
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(model):
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        assert all(t["refId"] and t["expr"] for t in panel["targets"]), panel["title"]
    (config_map,) = [o for o in render("k8s/monitoring") if o["kind"] == "ConfigMap"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["hubspot-gateway-dashboard.json"]) == model


def test_the_panels_operators_look_at_first_are_there():
    titles = {p["title"] for p in panels(json.loads(DASHBOARD.read_text()))}
    assert WANTED_PANELS <= titles, WANTED_PANELS - titles


def test_every_metric_a_panel_queries_is_exported_by_the_gateway():
    exported = exported_metric_names()
    for panel in panels(json.loads(DASHBOARD.read_text())):
        for target in panel["targets"]:
            expr = target["expr"].replace("$namespace", "x")
            used = metrics_in(expr) - {"histogram_quantile", "label_values"}
            assert used, panel["title"]
            unknown = used - exported
            assert not unknown, f"panel {panel['title']!r} queries metrics the gateway does not export: {unknown}"


def test_the_panel_check_notices_a_metric_the_gateway_does_not_export():
    assert "gateway_budget_wait_seconds_bucket" in exported_metric_names()
    assert "gateway_budget_wait_seconds_buckets" not in exported_metric_names()
