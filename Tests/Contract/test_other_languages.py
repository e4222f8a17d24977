"""Callers in other languages generate their stubs with scripts/gen-stubs (the invocation
docs/versioning.md documents): it runs for Go and Java with Debian's plugins, and for TypeScript
when ts-proto is installed (it comes from npm, which Debian does not package)."""
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICES = sorted(set(re.findall(r"^service (\w+)", "\n".join(p.read_text() for p in (ROOT / "Protos/hubspot/gateway/v1").glob("*.proto")), re.M)))


def generate(language, out):
    return subprocess.run([str(ROOT / "scripts" / "gen-stubs"), language, str(out)], capture_output=True, text=True, timeout=120)


def test_the_contract_has_services():
    assert "ContactsService" in SERVICES and len(SERVICES) >= 9


def test_go_stubs_are_generated_for_every_service(tmp_path):
    result = generate("go", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    generated = "\n".join(p.read_text() for p in tmp_path.rglob("*_grpc.pb.go"))
    for service in SERVICES:
        assert f"type {service}Client interface" in generated, service
    assert all("package hubspotgatewayv1" in p.read_text() for p in tmp_path.rglob("*.go"))


def test_java_stubs_are_generated_for_every_service(tmp_path):
    result = generate("java", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {p.stem for p in tmp_path.rglob("*Grpc.java")}
    assert names == {f"{service}Grpc" for service in SERVICES}


def test_typescript_stubs_are_generated_when_ts_proto_is_installed(tmp_path):
    if shutil.which("protoc-gen-ts_proto") is None:
        pytest.skip("TypeScript: protoc-gen-ts_proto is not installed (npm install ts-proto; Debian packages no TypeScript protoc plugin)")
    result = generate("typescript", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert any("ContactsServiceClient" in p.read_text() for p in tmp_path.rglob("*.ts"))
