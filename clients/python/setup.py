"""Generates the typed stubs of hubspot.gateway.v1 from the repository's Protos/ into the
package (as `hubspot_gateway_client.v1`) when the package is built: `pip install ./clients/python`
from a checkout. The generated code is not committed here; Protos/ is the one source."""
import importlib.resources
import pathlib
import re

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
PROTOS = HERE.parent.parent / "Protos"


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        from grpc_tools import protoc

        out = pathlib.Path(self.build_lib) / "hubspot_gateway_client" / "v1"
        out.mkdir(parents=True, exist_ok=True)
        sources = sorted(PROTOS.glob("hubspot/gateway/v1/*.proto"))
        if not sources:
            raise SystemExit(f"hubspot-gateway-client: no .proto files under {PROTOS}; build from a checkout of the repository")
        staging = pathlib.Path(self.get_finalized_command("build").build_temp) / "hubspot-gateway-stubs"
        staging.mkdir(parents=True, exist_ok=True)
        well_known = importlib.resources.files("grpc_tools") / "_proto"
        rc = protoc.main(["protoc", f"-I{PROTOS}", f"-I{well_known}", f"--python_out={staging}", f"--pyi_out={staging}",
                          f"--grpc_python_out={staging}", *(str(p.relative_to(PROTOS)) for p in sources)])
        if rc != 0:
            raise SystemExit("hubspot-gateway-client: grpcio-tools could not compile Protos/hubspot/gateway/v1")
        # protoc names the modules after the proto package (`hubspot.gateway.v1`), which would
        # collide with HubSpot's own SDK (`hubspot`): they live in this package instead.
        for generated in (staging / "hubspot" / "gateway" / "v1").iterdir():
            text = generated.read_text()
            text = re.sub(r"\bfrom hubspot\.gateway\.v1 import", "from hubspot_gateway_client.v1 import", text)
            text = re.sub(r"\bimport hubspot\.gateway\.v1\.", "import hubspot_gateway_client.v1.", text)
            (out / generated.name).write_text(text)
        (out / "__init__.py").write_text('"""Generated from Protos/hubspot/gateway/v1 when the package was built."""\n')


setup(cmdclass={"build_py": BuildWithStubs})
