"""grpc.health.v1 and server reflection, called with grpcio's own health and reflection
packages (grpcio-health-checking, grpcio-reflection)."""
import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

TIMEOUT = 10


def test_health_check_reports_the_server_and_its_services(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    assert stub.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT).status == health_pb2.HealthCheckResponse.SERVING
    assert stub.Check(health_pb2.HealthCheckRequest(service="grpc.testing.TestService"), timeout=TIMEOUT).status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_of_an_unknown_service_is_not_found(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.RpcError) as error:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_streams_the_current_status(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    call = stub.Watch(health_pb2.HealthCheckRequest(service="grpc.testing.TestService"), timeout=TIMEOUT)
    assert next(call).status == health_pb2.HealthCheckResponse.SERVING
    call.cancel()
    unknown = stub.Watch(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=TIMEOUT)
    assert next(unknown).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    unknown.cancel()


def test_reflection_lets_a_client_use_the_service_without_its_proto_files(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    services = set(database.get_services())
    assert {"grpc.testing.TestService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= services
    pool = descriptor_pool.DescriptorPool(database)
    service = pool.FindServiceByName("grpc.testing.TestService")
    method = service.FindMethodByName("UnaryCall")
    assert method.input_type.full_name == "grpc.testing.SimpleRequest"
    assert method.output_type.full_name == "grpc.testing.SimpleResponse"
    # Its imports came along (messages.proto, empty.proto).
    assert pool.FindMessageTypeByName("grpc.testing.Empty").full_name == "grpc.testing.Empty"


def test_reflection_v1_answers_unknown_symbols_with_not_found(server):
    """The v1 service, through messages compiled from the project's own reflection.proto."""
    from grpc.reflection.v1 import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Thing"),
            reflection_pb2.ServerReflectionRequest(file_by_filename="grpc/health/v1/health.proto"),
            reflection_pb2.ServerReflectionRequest(list_services=""),
        ]
        responses = list(stub.ServerReflectionInfo(iter(requests), timeout=TIMEOUT))
    assert len(responses) == 3
    assert responses[0].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert len(responses[1].file_descriptor_response.file_descriptor_proto) == 1
    assert "grpc.testing.TestService" in [s.name for s in responses[2].list_services_response.service]
