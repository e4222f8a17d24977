"""The standard gRPC interop cases (grpc/doc/interop-test-descriptions.md), run by grpcio
against grpc.testing.TestService on the project's nghttp2 transport."""
import asyncio
import threading

import grpc
import pytest

from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc

TIMEOUT = 20
ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\x0a\x0b\x0a\x0b\x0a\x0b")


def payload(size: int) -> messages_pb2.Payload:
    return messages_pb2.Payload(body=b"\x00" * size)


def streaming_request(size: int, *, status=None) -> messages_pb2.StreamingOutputCallRequest:
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=size)], payload=payload(size)
    )
    if status is not None:
        request.response_status.CopyFrom(status)
    return request


def test_empty_unary(stub):
    response = stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT)
    assert response == empty_pb2.Empty()


def test_large_unary(stub):
    response = stub.UnaryCall(messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828)), timeout=TIMEOUT)
    assert response.payload.body == b"\x00" * 314159


def test_client_streaming(stub):
    sizes = [27182, 8, 1828, 45904]
    requests = (messages_pb2.StreamingInputCallRequest(payload=payload(n)) for n in sizes)
    response = stub.StreamingInputCall(requests, timeout=TIMEOUT)
    assert response.aggregated_payload_size == 74922


def test_server_streaming(stub):
    sizes = [31415, 9, 2653, 58979]
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=n) for n in sizes]
    )
    responses = list(stub.StreamingOutputCall(request, timeout=TIMEOUT))
    assert [len(r.payload.body) for r in responses] == sizes


def test_ping_pong(stub):
    request_sizes = [27182, 8, 1828, 45904]
    response_sizes = [31415, 9, 2653, 58979]
    lock = threading.Condition()
    outbox = []

    def requests():
        for request_size, response_size in zip(request_sizes, response_sizes):
            with lock:
                yield messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=response_size)], payload=payload(request_size)
                )
                # Ping-pong: the next request only after this one's answer.
                lock.wait_for(lambda: len(outbox) >= request_sizes.index(request_size) + 1, timeout=TIMEOUT)

    for response in stub.FullDuplexCall(requests(), timeout=TIMEOUT):
        with lock:
            outbox.append(len(response.payload.body))
            lock.notify_all()
    assert outbox == response_sizes


def test_empty_stream(stub):
    assert list(stub.FullDuplexCall(iter([]), timeout=TIMEOUT)) == []


def test_custom_metadata_unary(stub):
    response, call = stub.UnaryCall.with_call(
        messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828)),
        metadata=[ECHO_INITIAL, ECHO_TRAILING], timeout=TIMEOUT,
    )
    assert len(response.payload.body) == 314159
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()


def test_custom_metadata_full_duplex(stub):
    call = stub.FullDuplexCall(iter([streaming_request(314159)]), metadata=[ECHO_INITIAL, ECHO_TRAILING], timeout=TIMEOUT)
    responses = list(call)
    assert [len(r.payload.body) for r in responses] == [314159]
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()


def test_binary_metadata_padded_and_unpadded_values_round_trip(stub):
    # 1, 2 and 3 bytes: base64 with two, one and no padding characters.
    for value in (b"\x01", b"\x01\x02", b"\x01\x02\x03", bytes(range(256))):
        _, call = stub.EmptyCall.with_call(empty_pb2.Empty(), metadata=[("x-grpc-test-echo-trailing-bin", value)], timeout=TIMEOUT)
        assert ("x-grpc-test-echo-trailing-bin", value) in call.trailing_metadata()


@pytest.mark.parametrize("message", ["test status message", "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"])
def test_status_code_and_message(stub, message):
    status = messages_pb2.EchoStatus(code=2, message=message)
    with pytest.raises(grpc.RpcError) as unary:
        stub.UnaryCall(messages_pb2.SimpleRequest(response_status=status), timeout=TIMEOUT)
    assert unary.value.code() == grpc.StatusCode.UNKNOWN
    assert unary.value.details() == message

    with pytest.raises(grpc.RpcError) as duplex:
        list(stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(response_status=status)]), timeout=TIMEOUT))
    assert duplex.value.code() == grpc.StatusCode.UNKNOWN
    assert duplex.value.details() == message


def test_status_with_echoed_trailing_metadata(stub):
    status = messages_pb2.EchoStatus(code=9, message="failed precondition, on request")
    with pytest.raises(grpc.RpcError) as error:
        stub.UnaryCall(messages_pb2.SimpleRequest(response_status=status), metadata=[ECHO_TRAILING], timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ECHO_TRAILING in error.value.trailing_metadata()


def test_unimplemented_method(stub):
    with pytest.raises(grpc.RpcError) as error:
        stub.UnimplementedCall(empty_pb2.Empty(), timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_unimplemented_service(channel):
    stub = test_pb2_grpc.UnimplementedServiceStub(channel)
    with pytest.raises(grpc.RpcError) as error:
        stub.UnimplementedCall(empty_pb2.Empty(), timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_timeout_on_sleeping_server(stub):
    # The server never answers the first message within 1 ms: GRPCCore must enforce the
    # deadline the client sent in grpc-timeout.
    slow = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=1, interval_us=2_000_000)], payload=payload(27182)
    )
    with pytest.raises(grpc.RpcError) as error:
        list(stub.FullDuplexCall(iter([slow]), timeout=0.001))
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_server_enforces_the_deadline_it_was_given(stub):
    slow = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=1, interval_us=5_000_000)]
    )
    with pytest.raises(grpc.RpcError) as error:
        list(stub.StreamingOutputCall(slow, timeout=0.5))
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_cancel_after_begin(stub):
    blocker = threading.Event()

    def requests():
        blocker.wait(TIMEOUT)
        return
        yield

    future = stub.StreamingInputCall.future(requests(), timeout=TIMEOUT)
    future.cancel()
    blocker.set()
    with pytest.raises(grpc.FutureCancelledError):
        future.result()
    assert future.cancelled()


def test_cancel_after_first_response(stub):
    more = threading.Event()

    def requests():
        yield streaming_request(31415)
        more.wait(TIMEOUT)

    call = stub.FullDuplexCall(requests(), timeout=TIMEOUT)
    first = next(call)
    assert len(first.payload.body) == 31415
    call.cancel()
    more.set()
    with pytest.raises(grpc.RpcError) as error:
        next(call)
    assert error.value.code() == grpc.StatusCode.CANCELLED


def test_five_hundred_concurrent_streams_on_one_connection(server):
    """500 bidirectional streams open at the same time on one HTTP/2 connection, each
    answering its own request."""

    async def run():
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = test_pb2_grpc.TestServiceStub(channel)
            calls = [stub.FullDuplexCall(timeout=60) for _ in range(500)]
            for index, call in enumerate(calls):
                await call.write(streaming_request(index + 1))
            sizes = [len((await call.read()).payload.body) for call in calls]
            for call in calls:
                await call.done_writing()
            codes = [await call.code() for call in calls]
            return sizes, codes

    sizes, codes = asyncio.run(run())
    assert sizes == [i + 1 for i in range(500)]
    assert all(code == grpc.StatusCode.OK for code in codes)


def test_a_request_message_over_the_limit_is_resource_exhausted(stub):
    with pytest.raises(grpc.RpcError) as error:
        stub.UnaryCall(messages_pb2.SimpleRequest(response_size=1, payload=payload(5 * 1024 * 1024)), timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds the limit" in error.value.details()
    # The connection is still good.
    assert stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT) == empty_pb2.Empty()


def test_a_response_message_over_the_limit_is_resource_exhausted(channel):
    stub = test_pb2_grpc.TestServiceStub(channel)
    with pytest.raises(grpc.RpcError) as error:
        stub.UnaryCall(messages_pb2.SimpleRequest(response_size=5 * 1024 * 1024), timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
