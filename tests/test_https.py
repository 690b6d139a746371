"""https for a room from a laptop (deploy/https.py): the certificate covers the names and addresses asked for, a TLS
client accepts it for them only, the files land in the user's folder (never in the repository), and the command
that serves the app with it."""
from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import stat
import threading

import pytest

from conftest import ROOT
from deploy import https

NAMES = ["room.test", "laptop.local"]
IPS = [ipaddress.ip_address("10.1.2.3"), ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]


def test_the_certificate_has_the_names_and_addresses_asked_for(tmp_path):
    folder = tmp_path / "dll"
    cert_path, key_path = https.make_certificate(folder, NAMES, IPS)
    assert (cert_path, key_path) == (folder / "cert.pem", folder / "key.pem")
    cert = https.read_certificate(cert_path)
    assert https.alternative_names(cert) == (set(NAMES), set(IPS))
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    ssl.create_default_context().load_cert_chain(cert_path, key_path)  # the key is the certificate's


def handshake(cert_path, key_path, server_hostname: str) -> None:
    """A TLS server with the certificate on a free port, and a client that trusts only it, asking for
    `server_hostname`: raises ssl.SSLCertVerificationError when the certificate does not cover it."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def serve():
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refused the certificate
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client = ssl.create_default_context(cafile=str(cert_path))
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                with client.wrap_socket(raw, server_hostname=server_hostname):
                    pass
        finally:
            thread.join(10)


def test_a_tls_client_accepts_it_for_its_names_only(tmp_path):
    cert_path, key_path = https.make_certificate(tmp_path / "dll", NAMES, IPS)
    for name in ("room.test", "10.1.2.3", "127.0.0.1"):
        handshake(cert_path, key_path, name)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(cert_path, key_path, "other.test")


def repository_files() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.pem") if ".git" not in p.parts}


def test_the_command_writes_in_the_users_folder_and_prints_how_to_serve(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(https, "this_computer", lambda: (["laptop", "localhost"], IPS[:2]))
    before = repository_files()
    monkeypatch.chdir(ROOT)  # as the README runs it
    assert https.main(["--print", "--name", "room.test", "--port", "8443"]) == 0
    folder = tmp_path / "config" / "deep-learning-live"
    out = capsys.readouterr().out
    cert = https.read_certificate(folder / "cert.pem")
    assert https.alternative_names(cert) == ({"laptop", "localhost", "room.test"}, set(IPS[:2]))
    assert (f"streamlit run app.py --server.address 0.0.0.0 --server.port 8443 --server.sslCertFile "
            f"{folder / 'cert.pem'} --server.sslKeyFile {folder / 'key.pem'}") in out
    assert "https://10.1.2.3:8443" in out and "warning" in out and "Proceed to 10.1.2.3" in out
    assert repository_files() == before  # nothing written in the repository

    # Run again: the same certificate (a phone that accepted it is not asked again); a new name: a new one.
    assert https.main(["--print", "--name", "room.test"]) == 0
    assert "Reusing" in capsys.readouterr().out
    assert https.read_certificate(folder / "cert.pem") == cert
    assert https.main(["--print", "--name", "projector.test"]) == 0
    assert "Made" in capsys.readouterr().out
    assert "projector.test" in https.alternative_names(https.read_certificate(folder / "cert.pem"))[0]


@pytest.mark.parametrize("argv,message", [
    (["--dir", str(ROOT / "certs")], "inside the repository"),
    (["--ip", "not-an-address"], "--ip"),
    (["--port", "70000"], "not a port"),
    (["--only"], "--only needs"),
    (["--name", "a b"], "not a host name"),
    (["--name", ""], "not a host name"),
])
def test_bad_options_get_a_message_not_a_traceback(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        https.main([*argv, "--print"])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (ROOT / "certs").exists()


def test_names_are_as_a_certificate_holds_them():
    assert https.dns_name("Room.Test.") == "room.test"
    assert https.dns_name("café.local") == "xn--caf-dma.local"  # what a browser compares
    for bad in ("", "a b", "-x.test", "x" * 64 + ".test", "a..b"):
        with pytest.raises(ValueError):
            https.dns_name(bad)


def test_make_certificate_refuses_the_repository():
    with pytest.raises(ValueError, match="inside the repository"):
        https.make_certificate(ROOT / "deploy" / "certs", NAMES, IPS)
    assert not (ROOT / "deploy" / "certs").exists()


def test_this_computers_names_and_addresses():
    names, ips = https.this_computer()
    assert "localhost" in names and socket.gethostname() in names
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert not any(ip.is_unspecified or ip.is_link_local for ip in ips)
    assert os.path.basename(https.config_dir()) == "deep-learning-live"
