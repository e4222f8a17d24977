"""What the three example callers share: where the gateway is and the caller key (flags, or
HUBSPOT_GATEWAY_TARGET / HUBSPOT_GATEWAY_KEY as a deployment would set them)."""
import argparse
import os

from hubspot_gateway_client import GatewayClient


def connect(description: str) -> tuple[GatewayClient, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--target", default=os.environ.get("HUBSPOT_GATEWAY_TARGET", "127.0.0.1:50051"),
                        help="the gateway: host:port, or dns:///<headless service>:50051 in a cluster")
    parser.add_argument("--key", default=os.environ.get("HUBSPOT_GATEWAY_KEY"),
                        help="this service's caller key (the sandbox prints one at start)")
    parser.add_argument("--records", type=int, default=2000, help="(marketing) contacts to import")
    arguments = parser.parse_args()
    if not arguments.key:
        parser.error("a caller key is needed: --key or HUBSPOT_GATEWAY_KEY")
    return GatewayClient(arguments.target, arguments.key), arguments
