"""The Prometheus alert rules in k8s/monitoring: well formed, and every metric they read is one
the gateway exports (named in its sources)."""
import re

from manifests import ROOT, render

PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "by", "without", "on", "ignoring",
                "group_left", "group_right", "and", "or", "unless", "bool", "offset", "histogram_quantile", "abs", "clamp_min"}
WANTED = {"HubSpotGatewayUpstream429", "HubSpotGatewayCircuitBreakerOpen", "HubSpotGatewayRedisFallbackActive",
          "HubSpotGatewayDailyBudgetNearlySpent", "HubSpotGatewayBudgetSaturated", "HubSpotGatewayCredentialsRejected",
          "HubSpotGatewayWebhookSignatureFailures", "HubSpotGatewayWebhooksNotStored", "HubSpotGatewayChangeConsumerLag"}


def exported_metric_names() -> set[str]:
    """Every metric-looking string literal in the gateway's sources, plus the series the
    Prometheus exporter derives from histograms (timers and aggregating recorders): _bucket,
    _sum, _count."""
    names = set()
    for source in (ROOT / "Sources").glob("**/*.swift"):
        names |= set(re.findall(r'"((?:gateway|hubspot|process)_[a-z0-9_]+)"', source.read_text()))
    return names | {name + suffix for name in names for suffix in ("_bucket", "_sum", "_count")}


def rules() -> list[dict]:
    (rule,) = [o for o in render("k8s/monitoring") if o["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def metrics_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {w for w in words if w not in PROMQL_WORDS and "_" in w}


def test_the_alerts_worth_having_are_there_and_well_formed():
    all_rules = rules()
    assert WANTED <= {r["alert"] for r in all_rules}
    for rule in all_rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}") and expr.count("[") == expr.count("]"), rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_every_metric_an_alert_reads_is_exported_by_the_gateway():
    exported = exported_metric_names()
    assert "hubspot_upstream_rate_limited_total" in exported  # the scan finds the names
    for rule in rules():
        used = metrics_in(rule["expr"])
        assert used, rule["alert"]
        unknown = used - exported
        assert not unknown, f"{rule['alert']} reads metrics the gateway does not export: {unknown}"


def test_the_metric_check_notices_a_misspelt_metric():
    assert metrics_in('sum(rate(gateway_grpc_requests_totl{code=~"internal"}[5m])) > 0') == {"gateway_grpc_requests_totl"}
    assert "gateway_grpc_requests_totl" not in exported_metric_names()
