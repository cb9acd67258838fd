"""A private CA, server and client certificates, and a TLS-only redis-server, for tests.

Everything is made with ``cryptography`` in a temporary directory: nothing from the machine's
trust store is used, so a client that is not given ``ca.pem`` must fail verification.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import quote

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.redis_server import RedisServer, free_port, start_redis


@dataclass(frozen=True)
class Certs:
    """Paths of PEM files: the CA, the server's pair, a client's pair."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    with open(path + ".key", "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    with open(path + ".pem", "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))


def _issue(subject: str, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
           usage: ExtendedKeyUsageOID | None = None, key: ec.EllipticCurvePrivateKey | None = None
           ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    if usage is ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return key, builder.sign(issuer_key, hashes.SHA256())


def make_certs(directory: str) -> Certs:
    """A CA and, signed by it, a server certificate for localhost/127.0.0.1 and a client one."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    _, ca_cert = _issue("jobfleet test CA", _name("jobfleet test CA"), ca_key, ca=True, key=ca_key)
    server_key, server_cert = _issue("localhost", ca_cert.subject, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client_key, client_cert = _issue("jobfleet worker", ca_cert.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    paths = {name: os.path.join(directory, name) for name in ("ca", "server", "client")}
    _write(paths["ca"], ca_key, ca_cert)
    _write(paths["server"], server_key, server_cert)
    _write(paths["client"], client_key, client_cert)
    return Certs(ca=paths["ca"] + ".pem", server_cert=paths["server"] + ".pem", server_key=paths["server"] + ".key",
                 client_cert=paths["client"] + ".pem", client_key=paths["client"] + ".key")


@dataclass
class TLSRedisServer:
    """A redis-server that listens only with TLS; ``url`` carries the CA (and the client pair)."""

    server: RedisServer
    certs: Certs
    client_auth: bool

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, db: int = 0, **query: str) -> str:
        """``rediss://127.0.0.1:PORT/db?ssl_ca_certs=...`` (+ the client pair when the server asks for one)."""
        options = {"ssl_ca_certs": self.certs.ca}
        if self.client_auth:
            options.update(ssl_certfile=self.certs.client_cert, ssl_keyfile=self.certs.client_key)
        options.update(query)
        text = "&".join(f"{k}={quote(v, safe='/')}" for k, v in options.items() if v is not None)
        return f"rediss://127.0.0.1:{self.port}/{db}" + (f"?{text}" if text else "")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url(), socket_timeout=5, socket_connect_timeout=5)

    def close(self) -> None:
        self.server.close()


def start_tls_redis(certs: Certs, *, client_auth: bool = False, extra_args: list[str] | None = None) -> TLSRedisServer:
    """A redis-server with its plain port off (``--port 0``) and TLS on a free port of its own."""
    port = free_port()
    args = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", certs.server_cert,
            "--tls-key-file", certs.server_key, "--tls-ca-cert-file", certs.ca,
            "--tls-auth-clients", "yes" if client_auth else "no", *(extra_args or [])]
    return TLSRedisServer(start_redis(args, port=port), certs, client_auth)
