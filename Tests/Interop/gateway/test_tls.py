"""The gateway's gRPC listener on mutual TLS and its Redis on TLS, with certificates the test's
own CA issued: grpcio callers identified by their client certificate (no key), identities a
client cannot claim by metadata, a renewed server certificate served without a restart."""
import pathlib
import socket
import ssl
import sys
import time

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, common_pb2, contacts_pb2, contacts_pb2_grpc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tls_certificates import TestCertificates  # noqa: E402

EXPORTER = "spiffe://cluster.local/ns/analytics/sa/exporter"


@pytest.fixture(scope="module")
def certificates():
    return TestCertificates()


@pytest.fixture(scope="module")
def tls_fleet(certificates):
    fleet = Fleet(
        replicas=1, redis_tls=certificates,
        args=("--tls-cert", str(certificates.server_cert), "--tls-key", str(certificates.server_key),
              "--tls-client-ca", str(certificates.ca), "--tls-reload-seconds", "0.2"),
        extra_keys=(f"exporter none crm.read cert={EXPORTER}",))
    yield fleet
    assert fleet.stop() == [0], "the replica drains and exits 0 on SIGTERM"


def channel(fleet, certificates, client=None):
    """A grpcio channel trusting the test's CA, with `client` (certificate, key) if given."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=certificates.ca.read_bytes(),
        private_key=client[1].read_bytes() if client else None,
        certificate_chain=client[0].read_bytes() if client else None)
    return grpc.secure_channel(f"localhost:{fleet.gateways[0].grpc_port}", credentials)


def list_contacts(ch, metadata=()):
    stub = contacts_pb2_grpc.ContactsServiceStub(ch)
    return stub.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=5)),
                             metadata=metadata, timeout=20)


def test_a_caller_named_by_its_client_certificate_needs_no_key_and_redis_is_reached_over_tls(tls_fleet, certificates):
    exporter = certificates.client("exporter", EXPORTER)
    with channel(tls_fleet, certificates, exporter) as ch:
        assert len(list_contacts(ch).contacts) == 5
        # Its scopes are the cert= line's: crm.read, no admin.
        with pytest.raises(grpc.RpcError) as refused:
            admin_pb2_grpc.AdminServiceStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # A key still works over the same connection, and says who calls.
        status = admin_pb2_grpc.AdminServiceStub(ch).GetStatus(admin_pb2.GetStatusRequest(), metadata=tls_fleet.metadata("ops"), timeout=10)
    assert status.redis == admin_pb2.REDIS_STATUS_UP, "the replica reaches its rediss:// Redis"


def test_a_certificate_the_keys_do_not_name_still_needs_a_key_and_cannot_claim_an_identity(tls_fleet, certificates):
    stranger = certificates.client("stranger", "spiffe://cluster.local/ns/other/sa/stranger")
    with channel(tls_fleet, certificates, stranger) as ch:
        with pytest.raises(grpc.RpcError) as unnamed:
            list_contacts(ch)
        assert unnamed.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "spiffe://cluster.local/ns/other/sa/stranger" in unnamed.value.details()
        # The identity metadata is the transport's alone: a client sending it is not believed.
        with pytest.raises(grpc.RpcError) as claimed:
            list_contacts(ch, metadata=(("x-client-certificate-identity", EXPORTER),))
        assert claimed.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert len(list_contacts(ch, metadata=tls_fleet.metadata("analytics")).contacts) == 5


def test_a_client_without_a_certificate_or_trusting_another_ca_does_not_get_through(tls_fleet, certificates):
    with channel(tls_fleet, certificates) as ch:
        with pytest.raises(grpc.RpcError) as refused:
            list_contacts(ch, metadata=tls_fleet.metadata("analytics"))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # Cleartext HTTP/2 to a TLS listener is no call either.
    with grpc.insecure_channel(tls_fleet.gateways[0].address) as ch:
        with pytest.raises(grpc.RpcError) as cleartext:
            list_contacts(ch, metadata=tls_fleet.metadata("analytics"))
        assert cleartext.value.code() == grpc.StatusCode.UNAVAILABLE


def served_certificate(fleet, certificates, client) -> bytes:
    """The DER certificate a new TLS connection to the gateway is served."""
    context = ssl.create_default_context(cafile=str(certificates.ca))
    context.load_cert_chain(str(client[0]), str(client[1]))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", fleet.gateways[0].grpc_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "h2"
            return tls.getpeercert(binary_form=True)


def test_a_renewed_server_certificate_is_served_to_new_connections_without_a_restart(tls_fleet, certificates):
    exporter = certificates.client("exporter", EXPORTER)
    before = served_certificate(tls_fleet, certificates, exporter)
    with channel(tls_fleet, certificates, exporter) as old:
        assert list_contacts(old).contacts
        certificates.issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1")  # cert-manager renews
        renewed = ssl.PEM_cert_to_DER_cert(certificates.server_cert.read_text())
        assert renewed != before
        deadline = time.monotonic() + 20
        while served_certificate(tls_fleet, certificates, exporter) != renewed:
            assert time.monotonic() < deadline, "the renewed certificate was not served within 20 s"
            time.sleep(0.1)
        # The connection made before the renewal goes on.
        assert list_contacts(old).contacts
    with channel(tls_fleet, certificates, exporter) as new:
        assert list_contacts(new).contacts
