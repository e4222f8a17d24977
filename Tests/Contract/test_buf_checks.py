"""The contract checks of scripts/test catch what they are there for: `buf breaking` against the
released baseline fails when a field is removed or renumbered, and `buf lint` holds a new RPC to
the rules that v1's own RPCs are excused from one by one."""
import json
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUF = ROOT / ".venv" / "bin" / "buf"


@pytest.fixture
def protos(tmp_path):
    """A copy of Protos/ to change (the baseline comes along)."""
    if not BUF.exists():
        pytest.fail("buf missing: scripts/setup installs it (buf-bin in Tests/Interop/requirements.txt)")
    copy = tmp_path / "Protos"
    shutil.copytree(ROOT / "Protos", copy)
    return copy


def buf(protos, *args):
    result = subprocess.run([str(BUF), *args, "--error-format", "json"], cwd=protos, capture_output=True, text=True, timeout=120)
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, findings, result.stderr


def edit(protos, name, old, new):
    path = protos / "hubspot" / "gateway" / "v1" / name
    text = path.read_text()
    assert old in text, f"{name} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


def test_the_contract_as_it_is_passes_both_checks(protos):
    assert buf(protos, "lint")[0] == 0
    assert buf(protos, "breaking", "--against", "v1-baseline.json")[0] == 0


def test_removing_a_field_is_breaking(protos):
    edit(protos, "contacts.proto", "  string first_name = 3;\n", "")
    code, findings, _ = buf(protos, "breaking", "--against", "v1-baseline.json")
    assert code != 0
    assert any(f["type"] == "FIELD_NO_DELETE" and "first_name" in f["message"] for f in findings), findings


def test_renumbering_a_field_is_breaking(protos):
    edit(protos, "contacts.proto", "string first_name = 3;", "string first_name = 30;")
    code, findings, _ = buf(protos, "breaking", "--against", "v1-baseline.json")
    assert code != 0
    types = {f["type"] for f in findings}
    assert {"FIELD_NO_DELETE", "FIELD_SAME_NAME"} & types, findings


def test_adding_a_field_is_not_breaking(protos):
    edit(protos, "contacts.proto", "  RecordTimes times = 7;\n", "  RecordTimes times = 7;\n  string nickname = 99;\n")
    assert buf(protos, "breaking", "--against", "v1-baseline.json")[0] == 0


def test_a_new_rpc_sharing_a_response_type_fails_lint(protos):
    path = protos / "hubspot" / "gateway" / "v1" / "contacts.proto"
    text = path.read_text()
    closing = text.rindex("}")
    rpc = "  rpc BatchMergeContacts(BatchUpsertContactsRequest) returns (BatchWriteContactsResponse);\n"
    path.write_text(text[:closing] + rpc + text[closing:])
    code, findings, _ = buf(protos, "lint")
    assert code != 0
    flagged = {f["type"] for f in findings if re.search(r"BatchMerge|BatchWriteContactsResponse|BatchUpsertContactsRequest", f["message"])}
    assert "RPC_RESPONSE_STANDARD_NAME" in flagged and "RPC_REQUEST_STANDARD_NAME" in flagged, findings
