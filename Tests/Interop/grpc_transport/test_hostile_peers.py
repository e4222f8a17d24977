"""Peers that break the rules, written with raw sockets and the `h2` library: the server must
stay up, keep its memory bounded and keep serving everyone else."""
import socket
import time

import h2.config
import h2.connection
import h2.events
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame
from hpack import Encoder

from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc
import grpc

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REQUEST_HEADERS = [
    (":method", "POST"), (":scheme", "http"), (":path", "/grpc.testing.TestService/EmptyCall"),
    (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
]


def connect(server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def h2_client(server, receive_buffer: int = 0):
    """A socket with the HTTP/2 preface and SETTINGS sent, and its `h2` client state."""
    sock = connect(server)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def headers_for(method: str):
    """REQUEST_HEADERS calling grpc.testing.TestService/`method`."""
    return [h if h[0] != ":path" else (":path", f"/grpc.testing.TestService/{method}") for h in REQUEST_HEADERS]


def read_until_closed(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or `limit` passes)."""
    data = b""
    deadline = time.monotonic() + limit
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    else:
        pytest.fail("the server kept the connection open")
    return data


def still_serves(server):
    with grpc.insecure_channel(server.address) as channel:
        assert test_pb2_grpc.TestServiceStub(channel).EmptyCall(empty_pb2.Empty(), timeout=10) == empty_pb2.Empty()
    assert server.alive()


def goaway_error_code(data: bytes):
    """The error code of the first GOAWAY frame in `data`, or None."""
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        frame_type = data[offset + 3]
        if frame_type == 0x7 and offset + 9 + 8 <= len(data):
            return int.from_bytes(data[offset + 13:offset + 17], "big")
        offset += 9 + length
    return None


def test_garbage_bytes_close_the_connection_and_nothing_else(server):
    sock = connect(server)
    sock.sendall(bytes(range(256)) * 64)
    read_until_closed(sock)
    still_serves(server)


def test_an_http1_request_is_not_a_preface(server):
    sock = connect(server)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    read_until_closed(sock)
    still_serves(server)


def test_endless_continuation_frames_are_cut_off(server):
    sock, conn = h2_client(server)
    block = Encoder().encode(REQUEST_HEADERS)
    first = HeadersFrame(1)
    first.data = block[:1]
    first.flags.add("END_STREAM")  # no END_HEADERS: CONTINUATION must follow
    sock.sendall(first.serialize())
    sent = 0
    try:
        for _ in range(10_000):
            frame = ContinuationFrame(1)
            frame.data = b"\x40\x03foo\x03bar"  # literal header x 10k, never END_HEADERS
            sock.sendall(frame.serialize())
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = read_until_closed(sock)
    assert sent < 10_000 or goaway_error_code(data) is not None, "the server accepted 10,000 CONTINUATION frames"
    still_serves(server)


def test_a_rapid_reset_flood_gets_goaway(server):
    sock, conn = h2_client(server)
    try:
        for batch in range(40):
            for _ in range(100):
                stream_id = conn.get_next_available_stream_id()
                conn.send_headers(stream_id, REQUEST_HEADERS)
                conn.reset_stream(stream_id)
            sock.sendall(conn.data_to_send())
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = read_until_closed(sock)
    code = goaway_error_code(data)
    assert code is not None and code != 0, f"expected a GOAWAY with an error code, got {code}"
    still_serves(server)


def test_a_client_that_never_reads_does_not_grow_the_server(server):
    """Asks for 64 MiB of responses on 20 streams and never reads or opens its window: the
    server must stop at the flow-control window, not buffer the rest."""
    before = server.rss_kib()
    sock, conn = h2_client(server, receive_buffer=4096)
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=1 << 20) for _ in range(64)]
    ).SerializeToString()
    headers = headers_for("StreamingOutputCall")
    for _ in range(20):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, headers)
        conn.send_data(stream_id, b"\x00" + len(request).to_bytes(4, "big") + request, end_stream=True)
    sock.sendall(conn.data_to_send())
    time.sleep(3)
    still_serves(server)
    grown_mib = (server.rss_kib() - before) / 1024
    sock.close()
    # 20 streams × 1 MiB messages being produced is ~20–40 MiB at most; 20 × 64 MiB would be 1.3 GiB.
    assert grown_mib < 200, f"the server grew by {grown_mib:.0f} MiB for a client that does not read"


def test_a_client_that_sends_headers_and_vanishes_frees_its_streams(server):
    for _ in range(5):
        sock, conn = h2_client(server)
        for _ in range(50):
            conn.send_headers(conn.get_next_available_stream_id(), headers_for("FullDuplexCall"))
        sock.sendall(conn.data_to_send())
        sock.close()
    still_serves(server)


def test_non_grpc_requests_get_http_errors(server):
    sock, conn = h2_client(server)
    cases = {
        "GET": [(":method", "GET")],
        "json": [("content-type", "application/json")],
        "no-te": [("te", "")],
    }
    statuses = {}
    stream_of = {}
    for name, overrides in cases.items():
        names = {k for k, _ in overrides}
        headers = [o for o in overrides if o[1] and o[0].startswith(":")] + [h for h in REQUEST_HEADERS if h[0] not in names] + [o for o in overrides if o[1] and not o[0].startswith(":")]
        stream_id = conn.get_next_available_stream_id()
        stream_of[stream_id] = name
        conn.send_headers(stream_id, headers, end_stream=True)
    sock.sendall(conn.data_to_send())
    sock.settimeout(5)
    while len(statuses) < len(cases):
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                statuses[stream_of[event.stream_id]] = dict((k.decode(), v.decode()) for k, v in event.headers)
        sock.sendall(conn.data_to_send())
    assert statuses["GET"][":status"] == "405"
    assert statuses["json"][":status"] == "415"
    assert statuses["no-te"][":status"] == "400"
    assert all("grpc-message" in s for s in statuses.values())
    sock.close()
    still_serves(server)


def frames(data: bytes):
    """(type, flags, stream id, payload) of each whole frame in `data`."""
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        if offset + 9 + length > len(data):
            return
        yield data[offset + 3], data[offset + 4], int.from_bytes(data[offset + 5:offset + 9], "big") & 0x7FFFFFFF, data[offset + 9:offset + 9 + length]
        offset += 9 + length


def test_an_idle_connection_is_pinged_then_closed_with_goaway(impatient_server):
    sock = connect(impatient_server)
    sock.sendall(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # preface + empty SETTINGS
    data = read_until_closed(sock)
    kinds = [f[0] for f in frames(data)]
    assert 0x6 in kinds, "the server never sent a keepalive PING"
    assert goaway_error_code(data) == 0, "an idle close is a graceful GOAWAY (NO_ERROR)"


def test_an_old_connection_is_drained_and_its_calls_still_finish(impatient_server):
    """Max connection age: GOAWAY after ~1 s while a 2 s call runs; the call still completes."""
    with grpc.insecure_channel(impatient_server.address) as channel:
        stub = test_pb2_grpc.TestServiceStub(channel)
        slow = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=8, interval_us=2_000_000)]
        )
        responses = list(stub.StreamingOutputCall(slow, timeout=20))
        assert [len(r.payload.body) for r in responses] == [8]
        # The client reconnects by itself after the GOAWAY.
        assert stub.EmptyCall(empty_pb2.Empty(), timeout=10) == empty_pb2.Empty()


def responses_to(server, header_lists: dict[str, list], validate: bool = True) -> dict[str, dict]:
    """Sends each header list on a stream of one connection; returns what each stream got:
    the response (trailers-only) headers, or {"reset": code} when the server reset it."""
    sock = connect(server)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=validate, normalize_outbound_headers=validate))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    stream_of = {}
    for name, headers in header_lists.items():
        stream_id = conn.get_next_available_stream_id()
        stream_of[stream_id] = name
        conn.send_headers(stream_id, headers, end_stream=True)
    sock.sendall(conn.data_to_send())
    answers: dict[str, dict] = {}
    sock.settimeout(5)
    while len(answers) < len(header_lists):
        data = sock.recv(65536)
        assert data, f"the server closed the connection; answered so far: {answers}"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                answers[stream_of[event.stream_id]] = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h2.events.StreamReset) and stream_of.get(event.stream_id) not in answers:
                answers[stream_of[event.stream_id]] = {"reset": int(event.error_code)}
        sock.sendall(conn.data_to_send())
    sock.close()
    return answers


def test_oversized_metadata_is_resource_exhausted_not_a_reset(server):
    """A 20 KiB value, or 300 entries, is over the 16 KiB header list limit: RESOURCE_EXHAUSTED
    with a message, as a trailers-only response, not a stream reset (INTERNAL at the client)."""
    answers = responses_to(server, {
        "big value": REQUEST_HEADERS + [("x-big", "v" * 20 * 1024)],
        "many entries": REQUEST_HEADERS + [(f"x-entry-{i}", "value-" + "x" * 40) for i in range(300)],
        "fine": REQUEST_HEADERS + [("x-small", "ok")],
    })
    for name in ("big value", "many entries"):
        assert answers[name].get("grpc-status") == str(grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]), (name, answers[name])
        assert "exceeds the server's limit" in answers[name].get("grpc-message", "").replace("%20", " "), answers[name]
    assert answers["fine"].get(":status") == "200" and "reset" not in answers["fine"]
    still_serves(server)


def test_oversized_metadata_through_grpcio_is_resource_exhausted(stub):
    with pytest.raises(grpc.RpcError) as refused:
        stub.EmptyCall(empty_pb2.Empty(), metadata=[("x-big", "v" * 20 * 1024)], timeout=10)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.value
    assert "limit" in refused.value.details()


def test_a_field_value_with_trailing_whitespace_is_refused_with_a_status(server):
    """HTTP/2 forbids leading/trailing whitespace in field values: a credential with it is a bad
    credential (UNAUTHENTICATED), any other such field INVALID_ARGUMENT; never a stream reset."""
    answers = responses_to(server, {
        "authorization": REQUEST_HEADERS + [("authorization", "Bearer ")],
        "other": REQUEST_HEADERS + [("x-note", " padded ")],
    }, validate=False)
    assert answers["authorization"].get("grpc-status") == str(grpc.StatusCode.UNAUTHENTICATED.value[0]), answers
    assert "authorization" in answers["authorization"].get("grpc-message", ""), answers
    assert answers["other"].get("grpc-status") == str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), answers
    still_serves(server)


def test_a_malformed_grpc_timeout_is_refused(server):
    answers = responses_to(server, {
        "words": REQUEST_HEADERS + [("grpc-timeout", "soon")],
        "too many digits": REQUEST_HEADERS + [("grpc-timeout", "123456789S")],
        "no unit": REQUEST_HEADERS + [("grpc-timeout", "100")],
        "valid": REQUEST_HEADERS + [("grpc-timeout", "5S")],
    })
    for name in ("words", "too many digits", "no unit"):
        assert answers[name].get("grpc-status") == str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), (name, answers[name])
        assert "grpc-timeout" in answers[name].get("grpc-message", ""), answers[name]
    assert answers["valid"].get("grpc-status", "0") == "0" or answers["valid"].get(":status") == "200"
    assert "reset" not in answers["valid"]
