"""A certificate authority made for one test run by the `openssl` command: a server
certificate for localhost / 127.0.0.1 and client certificates with a URI SAN (a SPIFFE id,
as a mesh or cert-manager's CSI driver issues them)."""
import os
import pathlib
import subprocess
import tempfile


class TestCertificates:
    __test__ = False  # not a test class

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="test-certificates-"))
        self.ca = self.dir / "ca.crt"
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.dir / "ca.key", "-out", self.ca,
                      "-days", "2", "-subj", "/CN=hubspot-gateway test CA")
        self.server_cert, self.server_key = self.issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1")

    def client(self, name: str, uri: str) -> tuple[pathlib.Path, pathlib.Path]:
        return self.issue(f"client-{name}", name, f"extendedKeyUsage=clientAuth\nsubjectAltName=URI:{uri}")

    def issue(self, name: str, common_name: str, extensions: str) -> tuple[pathlib.Path, pathlib.Path]:
        """Issues (or renews, with a new key) a certificate; the files are renamed into place, as
        a Kubernetes Secret's files change."""
        base = self.dir / name
        ext = self.dir / f"{name}.ext"
        ext.write_text(extensions + "\n")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{base}.key.new", "-out", f"{base}.csr",
                      "-subj", f"/CN={common_name}")
        self._openssl("x509", "-req", "-in", f"{base}.csr", "-CA", self.ca, "-CAkey", self.dir / "ca.key",
                      "-CAcreateserial", "-out", f"{base}.crt.new", "-days", "2", "-extfile", ext)
        os.replace(f"{base}.key.new", f"{base}.key")
        os.replace(f"{base}.crt.new", f"{base}.crt")
        return pathlib.Path(f"{base}.crt"), pathlib.Path(f"{base}.key")

    @staticmethod
    def _openssl(*args):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
