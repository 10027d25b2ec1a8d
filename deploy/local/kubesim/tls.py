"""Optional HTTPS, as real API servers always serve it.

Plain HTTP is the fast default, and the Python client sends its bearer token over it. Go
clients (kubectl, client-go) send credentials only over TLS, so ``tls=True`` serves HTTPS with a
throwaway self-signed certificate for the listening address (made with the ``openssl`` command),
whose PEM goes into the kubeconfig as ``certificate-authority-data``.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
from pathlib import Path


class TlsSetupError(RuntimeError):
    """No certificate could be made (``openssl`` missing or failing)."""


def make_self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """Writes ``cert.pem`` and ``key.pem`` for ``host`` (plus localhost) into ``directory``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsSetupError("tls=True needs the openssl command to make a certificate")
    names = {"DNS:localhost", "IP:127.0.0.1"}
    try:
        ipaddress.ip_address(host)
        names.add(f"IP:{host}")
    except ValueError:
        names.add(f"DNS:{host}")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=kubesim",
        "-addext",
        "subjectAltName=" + ",".join(sorted(names)),
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TlsSetupError(f"openssl failed: {result.stderr.strip()}")
    key.chmod(0o600)
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
