"""The Dockerfile: hadolint-clean, and its runtime stage holds every shared library the gateway
binary links (checked with ldd and dpkg on this Debian machine, as no Docker engine runs here)."""
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# What --static-swift-stdlib links into the binary instead of loading from the toolchain.
STATIC_SWIFT_RUNTIME = re.compile(r"^lib(swift\w*|_?Foundation\w*|dispatch|BlocksRuntime|swift_\w+)\.so")


def runtime_stage() -> str:
    stages = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)
    return stages[-1]


def runtime_packages() -> set[str]:
    install = re.search(r"apt-get install ([^&]+)", runtime_stage()).group(1)
    return {word for word in install.replace("\\", " ").split() if not word.startswith("-")}


def base_image() -> str:
    (name,) = re.findall(r"^ARG RUNTIME_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    return name


def dependency_closure(packages: set[str]) -> set[str]:
    result = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                             "--no-breaks", "--no-replaces", "--no-enhances", *sorted(packages)],
                            capture_output=True, text=True, check=True)
    return {line.strip() for line in result.stdout.splitlines() if line and not line.startswith(" ") and not line.startswith("<")}


def base_image_packages() -> set[str]:
    """debian:*-slim holds the Priority: required packages and apt, with their dependencies."""
    assert base_image().startswith("debian:") and base_image().endswith("-slim"), "the check knows Debian slim images only"
    listed = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\n"], capture_output=True, text=True, check=True).stdout
    required = {line.split()[0].split(":")[0] for line in listed.splitlines() if line.endswith(" required")}
    return dependency_closure(required | {"apt"})


def owner(path: str) -> str | None:
    real = os.path.realpath(path)
    for candidate in dict.fromkeys([path, real, real.removeprefix("/usr"), "/usr" + path]):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].split(",")[0].strip()
    return None


def gateway_binary() -> str:
    binary = os.environ.get("HUBSPOT_GATEWAY_RELEASE_BIN") or os.environ.get("HUBSPOT_GATEWAY_BIN") or str(ROOT / ".build" / "debug" / "hubspot-gateway")
    if not os.path.exists(binary):
        pytest.skip(f"no hubspot-gateway binary at {binary}")
    return binary


def test_the_dockerfile_is_hadolint_clean():
    hadolint = pathlib.Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_builds_from_sources_only_and_runs_unprivileged():
    text = DOCKERFILE.read_text()
    stage = runtime_stage()
    assert "--static-swift-stdlib" in text and "-c release" in text
    # Dependencies resolve before the sources are copied (a cached layer).
    assert text.index("swift package resolve") < text.index("COPY Sources")
    assert re.search(r"^USER \d+", stage, re.M) and "STOPSIGNAL SIGTERM" in stage and re.search(r'^ENTRYPOINT \["', stage, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".build*/" in ignored and "Tests/" in ignored and "Benchmarks/" in ignored
    # What the manifest needs without Tests/ and Benchmarks/ in the context.
    env = {**os.environ, "HUBSPOT_GATEWAY_PRODUCT_ONLY": "1"}
    result = subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    import json
    targets = json.loads(result.stdout)["targets"]
    paths = {t.get("path") or f"Sources/{t['name']}" for t in targets}
    assert all(not p.startswith(("Tests", "Benchmarks")) for p in paths), paths
    assert {t["name"] for t in targets} >= {"hubspot-gateway", "GatewayAPI", "GatewayCore"}


def test_every_shared_library_the_binary_links_is_in_the_runtime_image():
    binary = gateway_binary()
    linked = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    available = dependency_closure(runtime_packages()) | base_image_packages()
    missing = []
    checked = 0
    for line in linked.splitlines():
        match = re.match(r"\s*(\S+) => (/\S+)", line) or re.match(r"\s*(/\S+) \(", line)
        if not match:
            assert "not found" not in line, line
            continue
        path = match.group(2) if match.lastindex == 2 else match.group(1)
        name = os.path.basename(path)
        if STATIC_SWIFT_RUNTIME.match(name) and "/swift/" in path:
            continue  # linked statically in the image build
        package = owner(path)
        checked += 1
        if package is None or package.split(":")[0] not in available:
            missing.append(f"{name} ({package or 'no Debian package'})")
    assert checked >= 5  # libc, libcurl, libhiredis, libnghttp2, …
    assert not missing, f"libraries the runtime stage of the Dockerfile lacks: {missing}"


def test_the_library_check_notices_a_missing_package():
    available = dependency_closure({"ca-certificates"}) | base_image_packages()
    assert "libhiredis0.14" not in available and "libc6" in available
    assert owner("/lib/x86_64-linux-gnu/libhiredis.so.0.14") == "libhiredis0.14"
