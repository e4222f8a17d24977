"""scripts/setup installs everything the build, the tests and the benchmarks read from the system.

A green CI on a machine that had a package from earlier work once hid a missing install step
(libprotobuf-dev, which ships google/protobuf/*.proto). These tests resolve each system file and
command the project uses to the Debian package that owns it (`dpkg -S`) and check that the package
is in scripts/setup's list or pulled in by it (`apt-cache depends --recurse`, without recommends,
as setup installs them)."""
import functools
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Commands the tests, scripts and benchmarks run, with where. Interpreters and coreutils that
# every Debian has (bash, awk, python3) are not listed.
COMMANDS = {
    "pkg-config": "the build (system-library targets)",
    "redis-server": "Tests/TestSupport, Tests/Interop/gateway, Benchmarks",
    "redis-cli": "Benchmarks/gateway-api, gateway-core, redis-client",
    "redis-benchmark": "Benchmarks/redis-client",
    "nghttpd": "Tests/HubSpotAPITests (HTTPS + HTTP/2 peer)",
    "openssl": "Tests/HubSpotAPITests (test certificates)",
    "h2load": "Benchmarks/gateway-api, grpc-transport",
    "wrk": "Benchmarks/simulator, hubspot-client",
    "curl": "Benchmarks (readiness and statistics)",
    "protoc": "scripts/gen-protos, scripts/gen-stubs",
    "protoc-gen-go": "scripts/gen-stubs go (Tests/Contract)",
    "protoc-gen-go-grpc": "scripts/gen-stubs go (Tests/Contract)",
    "grpc_java_plugin": "scripts/gen-stubs java (Tests/Contract)",
    "taskset": "Benchmarks/gateway-api, grpc-transport (pinning)",
}


# Commands only the benchmarks' reference servers use: `scripts/setup --bench` installs them.
BENCH_COMMANDS = {
    "g++": "Benchmarks/grpc-transport/build-peers.sh (the gRPC C++ server)",
    "grpc_cpp_plugin": "Benchmarks/grpc-transport/build-peers.sh",
    "go": "Benchmarks/grpc-transport/build-peers.sh (the grpc-go server)",
}


def setup_packages(text: str | None = None, array: str = "packages") -> list[str]:
    """The names in the `packages=( … )` array of scripts/setup (or another array, such as
    `bench_packages`), comments dropped."""
    text = text if text is not None else (ROOT / "scripts" / "setup").read_text()
    block = re.search(rf"^{array}=\((.*?)^\)", text, re.S | re.M)
    assert block, f"scripts/setup has no {array}=( … ) list"
    names: list[str] = []
    for line in block.group(1).splitlines():
        names += line.split("#", 1)[0].split()
    return names


@functools.cache
def closure(packages: tuple[str, ...]) -> frozenset[str]:
    """The packages and everything they depend on (no recommends: setup installs without them)."""
    result = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
         "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"apt-cache depends failed (run apt-get update?):\n{result.stderr}"
    names = set(packages)
    for line in result.stdout.splitlines():
        line = line.strip()
        line = re.sub(r"^\|?(PreDepends|Depends):\s*", "", line)
        names.add(line.strip("<>").split(":")[0])
    return frozenset(names)


def owners(path: pathlib.Path) -> set[str]:
    """The Debian packages that ship `path` (following links to the real file if needed)."""
    for candidate in (path, path.resolve()):
        result = subprocess.run(["dpkg", "-S", str(candidate)], capture_output=True, text=True)
        if result.returncode == 0:
            return {entry.split(":")[0].strip() for line in result.stdout.splitlines()
                    for entry in line.rsplit(": ", 1)[0].split(",")}
    return set()


def include_dirs() -> list[pathlib.Path]:
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    return [pathlib.Path("/usr/include") / multiarch, pathlib.Path("/usr/include")] if multiarch else [pathlib.Path("/usr/include")]


def system_files() -> dict[str, str]:
    """Each system file the build reads, with what reads it: the well-known .proto files that
    Protos/ imports, the C headers the system-library shims include, their pkg-config files."""
    needed: dict[str, str] = {}
    for proto in sorted((ROOT / "Protos").rglob("*.proto")):
        for name in re.findall(r'^import\s+(?:public\s+)?"(google/protobuf/[^"]+)"', proto.read_text(), re.M):
            needed.setdefault(f"/usr/include/{name}", f"Protos/{proto.relative_to(ROOT / 'Protos')}")
    shims = list((ROOT / "Sources").glob("C*/shim.h")) + list((ROOT / "Sources").glob("C*/include/*.h"))
    assert shims, "no C shim headers found under Sources/"
    for shim in shims:
        for header in re.findall(r"^#include\s+<([^>]+)>", shim.read_text(), re.M):
            found = next((directory / header for directory in include_dirs() if (directory / header).exists()), None)
            if found is None and "/" not in header:
                continue  # a libc header such as <stddef.h>, from the compiler or libc6-dev
            needed.setdefault(str(found or f"/usr/include/{header}"), str(shim.relative_to(ROOT)))
    package = (ROOT / "Package.swift").read_text()
    for pc in re.findall(r'pkgConfig:\s*"([^"]+)"', package):
        result = subprocess.run(["pkg-config", "--variable=pcfiledir", pc], capture_output=True, text=True)
        path = f"{result.stdout.strip()}/{pc}.pc" if result.returncode == 0 else f"<{pc}.pc: pkg-config does not find it>"
        needed.setdefault(path, "Package.swift")
    return needed


def unprovided(packages: list[str], files: dict[str, str], commands: dict[str, str]) -> list[str]:
    """What the project uses that none of `packages` (with their dependencies) provides."""
    installed = closure(tuple(packages))
    # (what, where it is on this machine or None, what is missing when it is not there)
    needs = [(f"{path} (read by {user})", path if pathlib.Path(path).exists() else None, "is not on this machine")
             for path, user in sorted(files.items())]
    needs += [(f"command {command} (used by {user})", shutil.which(command), "is not on PATH")
              for command, user in sorted(commands.items())]
    problems: list[str] = []
    for what, found, absent in needs:
        if found is None:
            problems.append(f"{what} {absent}")
            continue
        shipped_by = owners(pathlib.Path(found))
        if not shipped_by & installed:
            problems.append(f"{what} comes from {', '.join(sorted(shipped_by)) or 'no package'}, which scripts/setup does not install")
    return problems


def test_every_system_file_and_command_comes_from_a_package_setup_installs():
    files = system_files()
    assert any(path.endswith("google/protobuf/duration.proto") for path in files)
    assert any("nghttp2/nghttp2.h" in path for path in files) and any("curl/curl.h" in path for path in files)
    assert unprovided(setup_packages(), files, COMMANDS) == []


def test_every_command_of_the_benchmarks_reference_servers_comes_from_setup_bench():
    missing = [c for c in BENCH_COMMANDS if shutil.which(c) is None]
    if missing:
        pytest.skip(f"scripts/setup --bench has not run here ({', '.join(missing)} missing)")
    assert unprovided(setup_packages() + setup_packages(array="bench_packages"), {}, BENCH_COMMANDS) == []


def test_the_check_notices_a_package_missing_from_setup():
    # protoc-gen-go and protoc-gen-go-grpc depend on libprotobuf-dev: drop them with it.
    without = [name for name in setup_packages() if name not in ("libprotobuf-dev", "protoc-gen-go", "protoc-gen-go-grpc")]
    problems = unprovided(without, system_files(), {})
    assert any("google/protobuf/duration.proto" in problem and "libprotobuf-dev" in problem for problem in problems), problems
    without = [name for name in setup_packages() if name != "wrk"]
    assert [p for p in unprovided(without, {}, COMMANDS) if p.startswith("command wrk")], "a missing wrk went unnoticed"


def test_setup_packages_reads_the_list_and_drops_comments():
    text = "x=1\npackages=(\n  a b   # c d\n  e\n)\nother=(f)\n"
    assert setup_packages(text) == ["a", "b", "e"]


@pytest.mark.parametrize("name", sorted(COMMANDS | BENCH_COMMANDS))
def test_each_command_is_named_where_it_is_used(name):
    """The table above stays honest: every command it lists is really called somewhere."""
    places = [*ROOT.glob("Benchmarks/*/*.sh"), *ROOT.glob("scripts/*"), *ROOT.rglob("Tests/**/*.py"),
              *ROOT.rglob("Tests/**/*.swift"), ROOT / "Package.swift"]
    pattern = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    assert any(pattern.search(path.read_text(errors="ignore")) for path in places if path.is_file() and path.name != "test_setup_provides.py")
