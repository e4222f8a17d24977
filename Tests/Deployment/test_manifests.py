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
    errors = [error for o in objects if o["kind"] != "PrometheusRule" for error in schema_errors(o)]
    assert not errors, "\n".join(errors)


def test_the_example_secret_is_valid_and_holds_only_placeholders():
    (secret,) = load("k8s/secret.example.yaml")
    assert not schema_errors(secret)
    data = secret["stringData"]
    assert "REPLACE" in data["hubspot-token"]
    assert all(set(line.split()[1].removeprefix("sha256:")) <= set("01") for line in data["caller-keys"].splitlines() if line.strip() and not line.startswith("#"))


def test_the_schema_check_rejects_unknown_fields_wrong_types_and_missing_required_fields():
    (deployment,) = [o for o in render("k8s") if o["kind"] == "Deployment"]
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


def test_the_in_cluster_redis_is_reachable_from_the_gateway_only_and_persists_with_aof():
    objects = render("k8s")
    redis = one(objects, "StatefulSet", "hubspot-gateway-redis")
    service = one(objects, "Service", redis["spec"]["serviceName"])
    labels = redis["spec"]["template"]["metadata"]["labels"]
    assert selects(service["spec"]["selector"], labels) and service["spec"]["clusterIP"] == "None"
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    policy = one(objects, "NetworkPolicy", "hubspot-gateway-redis")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    gateway_labels = one(objects, "Deployment", "hubspot-gateway")["spec"]["template"]["metadata"]["labels"]
    (rule,) = policy["spec"]["ingress"]
    assert [selects(peer["podSelector"]["matchLabels"], gateway_labels) for peer in rule["from"]] == [True]
    (secret,) = load("k8s/secret.example.yaml")
    assert f"//{service['metadata']['name']}:6379" in secret["stringData"]["redis-url"]
    # The production overlay uses a managed Redis instead.
    production = render("k8s/overlays/production")
    assert not [o for o in production if "redis" in o["metadata"]["name"]]
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
