"""The Kubernetes manifests under k8s/: valid against the API schema, and consistent with each
other, with the example Secret, with the gateway's options and with the Dockerfile."""
import os
import re
import subprocess

import pytest

from manifests import ROOT, load, render, schema_errors

RENDERINGS = ["k8s", "k8s/overlays/production"]


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def gateway_options() -> set[str]:
    """The options hubspot-gateway reads from HUBSPOT_GATEWAY_* variables: every option of its
    --help (the gateway reads the names from there too)."""
    binary = os.environ.get("HUBSPOT_GATEWAY_BIN") or str(ROOT / ".build" / "debug" / "hubspot-gateway")
    if not os.path.exists(binary):
        pytest.skip(f"no hubspot-gateway binary at {binary}")
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    names = re.findall(r"^\s+--([a-z0-9-]+) <", help_text, re.M)
    assert len(names) > 40, help_text
    return {"HUBSPOT_GATEWAY_" + name.upper().replace("-", "_") for name in names}


@pytest.mark.parametrize("path", RENDERINGS + ["k8s/monitoring"])
def test_every_rendered_manifest_is_valid_against_the_kubernetes_schema(path):
    objects = render(path)
    assert objects
    # The Prometheus Operator's kinds have no model in the Kubernetes client (checked below).
    errors = [error for o in objects if not o["apiVersion"].startswith("monitoring.coreos.com/")
              for error in schema_errors(o)]
    assert not errors, "\n".join(errors)


def test_the_example_secret_is_valid_and_holds_only_placeholders():
    (secret,) = load("k8s/secret.example.yaml")
    assert not schema_errors(secret)
    data = secret["stringData"]
    assert "REPLACE" in data["hubspot-token"]
    assert all(set(line.split()[1].removeprefix("sha256:")) <= set("01") for line in data["caller-keys"].splitlines() if line.strip() and not line.startswith("#"))


def test_the_schema_check_rejects_unknown_fields_wrong_types_and_missing_required_fields():
    deployment = one(render("k8s"), "Deployment", "hubspot-gateway")
    import copy
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert any("unknown field 'livenessProbes'" in e for e in schema_errors(unknown))
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["replicas"] = "three"
    assert any("spec.replicas: expected an integer" in e for e in schema_errors(wrong))
    missing = copy.deepcopy(deployment)
    del missing["spec"]["selector"]
    assert any("selector" in e for e in schema_errors(missing))
    nameless = copy.deepcopy(deployment)
    del nameless["spec"]["template"]["spec"]["containers"][0]["name"]
    assert any("name" in e for e in schema_errors(nameless))
    config = copy.deepcopy(one(render("k8s"), "ConfigMap", "hubspot-gateway-config"))
    config["data"]["HUBSPOT_GATEWAY_GRPC_PORT"] = 50051
    assert any("expected a string" in e for e in schema_errors(config))


@pytest.mark.parametrize("path", RENDERINGS)
def test_selectors_ports_and_references_line_up(path):
    objects = render(path)
    deployment = one(objects, "Deployment", "hubspot-gateway")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    for service in by_kind(objects, "Service"):
        if service["metadata"]["name"].startswith("hubspot-gateway-redis"):
            continue
        assert selects(service["spec"]["selector"], labels), service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports or port["targetPort"] in ports.values()
    headless = one(objects, "Service", "hubspot-gateway-grpc")
    assert headless["spec"]["clusterIP"] == "None"

    pdb = one(objects, "PodDisruptionBudget", "hubspot-gateway")
    assert selects(pdb["spec"]["selector"]["matchLabels"], labels) and pdb["spec"]["maxUnavailable"] == 1

    hpa = one(objects, "HorizontalPodAutoscaler", "hubspot-gateway")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"], target["apiVersion"]) == ("Deployment", "hubspot-gateway", "apps/v1")
    assert hpa["spec"]["minReplicas"] >= 3 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    assert {m["type"] for m in hpa["spec"]["metrics"]} == {"Resource", "Pods"}

    policy = one(objects, "NetworkPolicy", "hubspot-gateway")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    for rule in policy["spec"]["ingress"]:
        for port in rule["ports"]:
            assert port["port"] in ports or port["port"] in ports.values()

    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        spec = container[probe]
        port = (spec.get("grpc") or spec.get("httpGet") or spec.get("tcpSocket"))["port"]
        assert port in ports or port in ports.values(), f"{probe} uses port {port}, which the container does not expose"
    assert container["livenessProbe"].get("grpc") and container["readinessProbe"]["httpGet"]["path"] == "/readyz"

    # Config and secrets: every name the pod uses exists, every variable is an option the gateway knows.
    (secret,) = load("k8s/secret.example.yaml")
    options = gateway_options()
    config_names = [ref["configMapRef"]["name"] for ref in container["envFrom"]]
    for name in config_names:
        config = one(objects, "ConfigMap", name)
        unknown = set(config["data"]) - options
        assert not unknown, f"ConfigMap {name} sets variables hubspot-gateway does not read: {unknown}"
        assert int(config["data"]["HUBSPOT_GATEWAY_GRPC_PORT"]) == ports["grpc"]
        assert int(config["data"]["HUBSPOT_GATEWAY_HTTP_PORT"]) == ports["http"]
        keys_file = config["data"].get("HUBSPOT_GATEWAY_CALLER_KEYS_FILE")
    for variable in container["env"]:
        assert variable["name"] in options, f"{variable['name']} is not an option of hubspot-gateway"
        reference = variable["valueFrom"]["secretKeyRef"]
        assert reference["name"] == secret["metadata"]["name"] and reference["key"] in secret["stringData"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    for volume in pod["spec"]["volumes"]:
        assert volume["name"] in mounts
        if "secret" in volume:
            assert volume["secret"]["secretName"] == secret["metadata"]["name"]
            for item in volume["secret"]["items"]:
                assert item["key"] in secret["stringData"]
                if keys_file:
                    assert keys_file == f"{mounts[volume['name']]}/{item['path']}"

    # The drain fits: preStop, then the gateway's own grace period, inside the pod's.
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace = float(one(objects, "ConfigMap", config_names[0])["data"]["HUBSPOT_GATEWAY_SHUTDOWN_GRACE_SECONDS"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > pre_stop + grace


@pytest.mark.parametrize("path", RENDERINGS)
def test_every_pod_runs_locked_down(path):
    for workload in [o for o in render(path) if o["kind"] in ("Deployment", "StatefulSet")]:
        spec = workload["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec.get("automountServiceAccountToken") is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]


def test_the_state_redis_never_evicts_and_persists_and_the_cache_redis_evicts_and_both_admit_the_gateway_only():
    objects = render("k8s")
    redis = one(objects, "StatefulSet", "hubspot-gateway-redis")
    service = one(objects, "Service", redis["spec"]["serviceName"])
    labels = redis["spec"]["template"]["metadata"]["labels"]
    assert selects(service["spec"]["selector"], labels) and service["spec"]["clusterIP"] == "None"
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    # Acknowledged state is never evicted (the gateway refuses to start on an evicting one).
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    cache = one(objects, "Deployment", "hubspot-gateway-redis-cache")
    cache_args = cache["spec"]["template"]["spec"]["containers"][0]["args"]
    assert cache_args[cache_args.index("--maxmemory-policy") + 1] == "allkeys-lru"
    config = one(objects, "ConfigMap", "hubspot-gateway-config")["data"]
    cache_service = one(objects, "Service", "hubspot-gateway-redis-cache")
    assert config["HUBSPOT_GATEWAY_CACHE_REDIS_URL"] == "redis://hubspot-gateway-redis-cache:6379"
    assert selects(cache_service["spec"]["selector"], cache["spec"]["template"]["metadata"]["labels"])
    cache_policy = one(objects, "NetworkPolicy", "hubspot-gateway-redis-cache")
    (cache_rule,) = cache_policy["spec"]["ingress"]
    policy = one(objects, "NetworkPolicy", "hubspot-gateway-redis")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    gateway_labels = one(objects, "Deployment", "hubspot-gateway")["spec"]["template"]["metadata"]["labels"]
    (rule,) = policy["spec"]["ingress"]
    assert [selects(peer["podSelector"]["matchLabels"], gateway_labels) for peer in rule["from"]] == [True]
    assert [selects(peer["podSelector"]["matchLabels"], gateway_labels) for peer in cache_rule["from"]] == [True]
    (secret,) = load("k8s/secret.example.yaml")
    assert f"//{service['metadata']['name']}:6379" in secret["stringData"]["redis-url"]
    # The production overlay uses a managed state Redis instead (the cache Redis stays).
    production = render("k8s/overlays/production")
    assert not [o for o in production if o["metadata"]["name"] == "hubspot-gateway-redis"]
    assert one(production, "Deployment", "hubspot-gateway-redis-cache")
    assert {o["metadata"].get("namespace") for o in production} == {"crm-gateway"}


def test_the_image_and_the_pod_agree_on_user_and_ports():
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", dockerfile, re.M).group(1).split()}
    deployment = one(render("k8s"), "Deployment", "hubspot-gateway")
    spec = deployment["spec"]["template"]["spec"]
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (int(user.group(1)), int(user.group(2)))
    assert {p["containerPort"] for p in spec["containers"][0]["ports"]} == exposed
    assert "STOPSIGNAL SIGTERM" in dockerfile and re.search(r'^ENTRYPOINT \["/', dockerfile, re.M)


def endpoints_named(text: str) -> set[tuple[str, int]]:
    """Every host:port a URL in `text` names (a Sentinel list names several; the scheme's port
    when none is written)."""
    defaults = {"http": 80, "https": 443, "redis": 6379, "rediss": 6379, "redis-sentinel": 26379}
    found = set()
    for scheme, hosts in re.findall(r"\b(https?|rediss?|redis-sentinel)://(?:[^@/\s\"]*@)?([A-Za-z0-9.,:<>_-]+)", text):
        for host in hosts.split(","):
            name, _, port = host.partition(":")
            found.add((name, int(port) if port.isdigit() else defaults[scheme]))
    return found


def allows(policy: dict, objects: list[dict], host: str, port: int) -> bool:
    """Whether the gateway's egress rules let it reach host:port: an IP by an ipBlock, a
    Service of this rendering by the podSelector of its pods, `name.namespace` by that
    namespace's selector, and any other name (a public host) by the public ipBlock."""
    import ipaddress

    def by_port(rule):
        return any(p["port"] == port for p in rule.get("ports", []))

    def in_block(block, address):
        return ipaddress.ip_address(address) in ipaddress.ip_network(block["cidr"]) and not any(
            ipaddress.ip_address(address) in ipaddress.ip_network(e) for e in block.get("except", []))

    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    for rule in policy["spec"]["egress"]:
        if not by_port(rule):
            continue
        for peer in rule["to"]:
            if re.fullmatch(r"[0-9.]+", host):
                if "ipBlock" in peer and in_block(peer["ipBlock"], host):
                    return True
            elif host in services:
                selector = services[host]["spec"]["selector"]
                if "podSelector" in peer and "namespaceSelector" not in peer and selects(
                        peer["podSelector"]["matchLabels"], selector):
                    return True
            elif "." in host and not host.endswith((".com", ".net", ".io", ".org")):
                namespace = host.split(".")[1]
                if peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == namespace:
                    return True
            elif "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0":
                return True
    return False


@pytest.mark.parametrize("path", RENDERINGS)
def test_every_endpoint_the_configuration_names_is_allowed_by_the_network_policy(path):
    objects = render(path)
    policy = one(objects, "NetworkPolicy", "hubspot-gateway")
    named = {("api.hubapi.com", 443)}  # HubSpot (--hubspot-base-url's default)
    for config in by_kind(objects, "ConfigMap"):
        for key, value in config.get("data", {}).items():
            # The webhook's public URL is where HubSpot reaches the gateway, not the other way.
            if key.startswith("HUBSPOT_GATEWAY_") and "PUBLIC_URL" not in key:
                named |= endpoints_named(value)
    if path == "k8s":
        (secret,) = load("k8s/secret.example.yaml")
        named |= endpoints_named(secret["stringData"]["redis-url"])
    else:
        # The overlay's managed Redis, as its comments configure it (TLS on 6380, or Sentinel).
        named |= endpoints_named((ROOT / path / "kustomization.yaml").read_text())
    assert any(port == 4318 for _, port in named) or path == "k8s"
    blocked = sorted(f"{host}:{port}" for host, port in named if not allows(policy, objects, host, port))
    assert not blocked, f"{path}: the NetworkPolicy blocks {blocked}"


def test_the_egress_check_notices_a_blocked_endpoint():
    objects = render("k8s/overlays/production")
    policy = one(objects, "NetworkPolicy", "hubspot-gateway")
    assert allows(policy, objects, "10.20.0.5", 6380) and allows(policy, objects, "otel-collector.monitoring", 4318)
    assert not allows(policy, objects, "10.20.0.5", 6390)
    assert not allows(policy, objects, "jaeger.tracing", 4318)
    assert not allows(policy, objects, "10.30.0.5", 6379)


def test_the_service_monitor_scrapes_the_services_metrics_port():
    objects = render("k8s/monitoring")
    (monitor,) = [o for o in objects if o["kind"] == "ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    services = [s for s in by_kind(render("k8s"), "Service") if selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    assert services, "the ServiceMonitor selects no Service"
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["path"] == "/metrics"
        scraped = [s for s in services if any(p["name"] == endpoint["port"] for p in s["spec"]["ports"])]
        assert [s["metadata"]["name"] for s in scraped] == ["hubspot-gateway"], scraped
    # The monitoring namespace may reach that port.
    policy = one(render("k8s"), "NetworkPolicy", "hubspot-gateway")
    assert any(any(p["port"] == "http" for p in rule["ports"]) and any(
        peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "monitoring"
        for peer in rule["from"]) for rule in policy["spec"]["ingress"])
