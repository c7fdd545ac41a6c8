"""Test certificates made with the openssl CLI (a CA, server and client
certificates it signs, and a rogue CA with a client certificate perfd must
refuse), for the gRPC mTLS tests (test_multinode.py, test_image.py)."""
import os
import subprocess
from pathlib import Path
from typing import List, Tuple


def openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f"openssl {' '.join(args)} failed:\n{r.stderr}"


def make_ca(d: Path, name: str) -> Tuple[Path, Path]:
    key, crt = d / f"{name}.key", d / f"{name}.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(crt),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return key, crt


def make_cert(d: Path, name: str, ca: Tuple[Path, Path], server: bool,
              san: str = "") -> Tuple[Path, Path]:
    key, csr, crt, ext = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt",
                          d / f"{name}.ext")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr), cwd=d)
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                   if server else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
            "-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(ext), cwd=d)
    os.chmod(key, 0o600)
    return key, crt


class Certs:
    """server_san: the server certificate's subjectAltName, e.g.
    "IP:127.0.0.1,DNS:localhost"."""

    def __init__(self, d: Path, server_san: str):
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self.ca = make_ca(d, "ca")
        self.server = make_cert(d, "server", self.ca, server=True, san=server_san)
        self.client = make_cert(d, "client", self.ca, server=False)
        # A CA perfd does not trust, and a client certificate it signed.
        self.rogue_ca = make_ca(d, "rogue-ca")
        self.rogue_client = make_cert(d, "rogue-client", self.rogue_ca, server=False)

    def tls_args(self, ca: Path = None, client=None) -> List[str]:
        key, crt = client or self.client
        return ["--tls-ca", str(ca or self.ca[1]), "--tls-cert", str(crt), "--tls-key", str(key)]
