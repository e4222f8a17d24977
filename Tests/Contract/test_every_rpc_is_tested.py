"""Every RPC of the gateway's API is called by at least one test: the Swift service suites
(generated clients: `rig.deals.listDeals(`) or the interop suites (grpcio: `.ListDeals(`)."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTOS = ROOT / "Protos" / "hubspot" / "gateway" / "v1"


def rpcs() -> set[str]:
    names = set()
    for proto in PROTOS.glob("*.proto"):
        names |= set(re.findall(r"^\s*rpc\s+(\w+)\s*\(", proto.read_text(), re.M))
    return names


def called(name: str) -> bool:
    swift = re.compile(rf"\.{name[0].lower()}{name[1:]}\(")
    python = re.compile(rf"\.{name}(\.with_call)?\(")
    sources = [*(ROOT / "Tests" / "GatewayAPITests").rglob("*.swift"), *(ROOT / "Tests" / "Interop" / "gateway").rglob("*.py")]
    return any(swift.search(text) or python.search(text) for text in (path.read_text() for path in sources))


def test_the_api_has_rpcs():
    assert {"GetContact", "ListDeals", "SearchObjects", "RemoveAssociation", "GetStatus"} <= rpcs()


def test_every_rpc_is_called_by_a_test():
    untested = sorted(name for name in rpcs() if not called(name))
    assert untested == [], f"RPCs no test calls: {untested}"


def test_the_check_sees_an_uncalled_rpc():
    assert not called("NoSuchRpcAnywhere")
