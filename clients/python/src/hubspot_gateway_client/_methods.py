"""What the kit knows about each RPC of hubspot.gateway.v1, read from the generated descriptors:
its service, whether it streams, whether repeating it is safe, and its default deadline."""
from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil

from . import v1

#: Unary reads: repeating them is always safe.
READ_PREFIXES = ("Get", "List", "Search", "BatchGet", "BatchList", "Timeline")
#: Writes whose repetition leaves HubSpot as one call would (set values, archive, associate,
#: add to a list): safe to retry. Creates, merges and job submissions are not: a retried
#: create that had landed is a duplicate (send an idempotency key and retry it yourself).
IDEMPOTENT_WRITE_PREFIXES = ("Update", "Upsert", "BatchUpdate", "BatchUpsert", "Archive", "BatchArchive", "MoveDealStage",
                             "AddListMembers", "RemoveListMembers", "Associate", "BatchAssociate", "RemoveAssociation",
                             "BatchRemoveAssociations", "CancelJob", "AckChanges", "FlushMetadata")


@dataclasses.dataclass(frozen=True)
class Method:
    service: str  # fully qualified, e.g. hubspot.gateway.v1.ContactsService
    name: str  # e.g. GetContact
    client_streaming: bool
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def is_read(self) -> bool:
        return self.name.startswith(READ_PREFIXES) or self.name in ("ExportChanged", "WatchJob", "JobResults")

    @property
    def is_idempotent(self) -> bool:
        return self.is_read or self.name.startswith(IDEMPOTENT_WRITE_PREFIXES)


@functools.lru_cache(maxsize=None)
def methods() -> tuple[Method, ...]:
    """Every RPC of the generated services (read once)."""
    found = []
    for module_info in pkgutil.iter_modules(v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{v1.__name__}.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found.append(Method(service.full_name, method.name, method.client_streaming, method.server_streaming))
    return tuple(found)
