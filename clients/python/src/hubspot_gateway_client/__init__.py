"""Python client kit for hubspot-gateway (hubspot.gateway.v1): `GatewayClient`, `GatewayError`,
and the generated messages and stubs under `hubspot_gateway_client.v1`."""
from ._client import DEFAULT_DEADLINES, GatewayClient, service_config
from ._errors import GatewayError

__all__ = ["DEFAULT_DEADLINES", "GatewayClient", "GatewayError", "service_config"]
