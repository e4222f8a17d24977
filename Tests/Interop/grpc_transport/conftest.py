"""Starts real `grpc-interop-server` processes (the project's nghttp2 transport) for Python's
grpcio, an implementation nobody here wrote, to talk to."""
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _compile_protos() -> pathlib.Path:
    """Compiles Protos/grpc/testing and grpc/reflection/v1 with grpcio-tools into a temporary package root."""
    from grpc_tools import protoc

    out = pathlib.Path(tempfile.mkdtemp(prefix="grpc-interop-py-"))
    protos = ROOT / "Protos"
    files = sorted(
        str(p.relative_to(protos))
        for folder in ("grpc/testing", "grpc/reflection/v1")
        for p in (protos / folder).glob("*.proto")
    )
    rc = protoc.main(["protoc", f"-I{protos}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    assert rc == 0, "grpcio-tools could not compile Protos/grpc/testing"
    return out


# The generated modules live in package `grpc.testing`, inside grpcio's own `grpc` package:
# extend that package's search path instead of shadowing it.
import grpc  # noqa: E402

_GENERATED = _compile_protos()
grpc.__path__.append(str(_GENERATED / "grpc"))
# grpcio aliases `grpc.reflection` to grpcio-reflection's package; add the v1 messages there.
import grpc_reflection  # noqa: E402

grpc_reflection.__path__.append(str(_GENERATED / "grpc" / "reflection"))


def server_binary() -> str:
    binary = os.environ.get("GRPC_INTEROP_SERVER_BIN") or str(ROOT / ".build" / "debug" / "grpc-interop-server")
    if not os.path.exists(binary):
        pytest.exit(f"grpc-interop-server not built at {binary}; run `swift build --product grpc-interop-server` or set GRPC_INTEROP_SERVER_BIN", 2)
    return binary


class InteropServer:
    """One running server process and the address it printed."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [server_binary(), "--port", "0", "--log-level", "warning", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("grpc-interop-server listening on "):
            self.process.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.process.stderr.read()}")
        self.address = line.rsplit(" ", 1)[1]
        self.host, port = self.address.rsplit(":", 1)
        self.port = int(port)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture(scope="session")
def server():
    srv = InteropServer()
    yield srv
    assert srv.alive(), "the server died during the tests"
    code = srv.stop()
    assert code == 0, f"grpc-interop-server exited with {code} on SIGTERM: {srv.process.stderr.read()}"


@pytest.fixture(scope="module")
def impatient_server():
    """A server with second-scale idle timeout, keepalive and connection age."""
    srv = InteropServer("--idle-timeout-seconds", "0.5", "--max-connection-age-seconds", "1", "--keepalive-seconds", "0.3")
    yield srv
    srv.stop()


sys.path.insert(0, str(ROOT / "Tests" / "Interop"))
from tls_certificates import TestCertificates  # noqa: E402


@pytest.fixture(scope="session")
def certificates():
    return TestCertificates()


@pytest.fixture(scope="session")
def tls_server(certificates):
    """The same server behind TLS (ALPN h2), with the test's CA."""
    srv = InteropServer("--tls-cert", str(certificates.server_cert), "--tls-key", str(certificates.server_key))
    yield srv
    assert srv.alive(), "the TLS server died during the tests"
    srv.stop()


@pytest.fixture(params=["h2c", "tls"])
def channel(request, server, certificates):
    """Every case that takes a channel runs on cleartext HTTP/2 and on TLS."""
    if request.param == "tls":
        srv = request.getfixturevalue("tls_server")
        credentials = grpc.ssl_channel_credentials(root_certificates=certificates.ca.read_bytes())
        ch = grpc.secure_channel(f"localhost:{srv.port}", credentials)
    else:
        ch = grpc.insecure_channel(server.address)
    yield ch
    ch.close()


@pytest.fixture
def stub(channel):
    from grpc.testing import test_pb2_grpc

    return test_pb2_grpc.TestServiceStub(channel)
