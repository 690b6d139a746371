"""https for a room from one laptop: a certificate for this computer's names and network addresses, then the app
served with it, so that phones on the room's network may use their microphone and camera (browsers give them to
https pages only; ui/secure.py).

    python -m deploy.https            # makes (or reuses) the certificate, then runs streamlit over https
    python -m deploy.https --print    # makes it and prints the command instead (also for deploy/compose.yaml)

The files go in ~/.config/deep-learning-live/ ($XDG_CONFIG_HOME), never in the repository: the key is a secret,
readable by its owner only. The certificate is self-signed: each phone warns once, and the presenter says how to go
on (printed below). It is reused while it still covers this computer's names and addresses, so a phone that
accepted it is not asked again; --new makes a fresh one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import shlex
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CERT, KEY = "cert.pem", "key.pem"
DAYS = 365  # Apple refuses longer-lived server certificates (825 days) even once trusted; a year is plenty
RENEW_DAYS = 7  # a certificate this close to its end is made again
PORT = 8501

WARNING = """\
Each phone shows a warning the first time ("Your connection is not private", "This Connection Is Not Private"):
the certificate was made by this computer, not by an authority the phone knows. Check that the address is the one
above, then go on:
  Chrome (Android): Advanced, then "Proceed to {host} (unsafe)";
  Safari (iPhone): Show Details, then "visit this website", then Visit Website;
  Firefox: Advanced..., then Accept the Risk and Continue.
The phone remembers it: after that the page records and takes photos."""


def config_dir() -> Path:
    """Where the certificate lives: $XDG_CONFIG_HOME/deep-learning-live, else ~/.config/deep-learning-live."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "deep-learning-live"


def inside_repository(folder: Path) -> bool:
    folder = folder.expanduser().resolve()
    return folder == ROOT or ROOT in folder.parents


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def dns_name(text: str) -> str:
    """A host name as a certificate holds it (non-ASCII names in their xn-- form); ValueError saying why not."""
    try:
        name = text.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{text!r} is not a host name") from None
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError(f"{text!r} is not a host name (letters, digits and hyphens, dot-separated)")
    return name


def this_computer() -> tuple[list[str], list[Address]]:
    """The names and addresses phones may open this computer by: its host name (and NAME.local, which phones on the
    same Wi-Fi often resolve), its fully qualified name, localhost; its address on the network (the default route's,
    as the Share box's link uses), the host name's other addresses, and the loopback addresses."""
    from ui.room_address import lan_address

    host = socket.gethostname()
    names = [host] + ([f"{host}.local"] if "." not in host else [])
    fqdn = socket.getfqdn()
    if "." in fqdn and not fqdn.startswith("localhost"):
        names.append(fqdn)
    names.append("localhost")
    names = [dns_name(name) for name in names if _is_dns_name(name)]  # an odd host name is left out, not fatal
    ips: list[Address] = []
    found = [lan_address()]
    try:
        found += [info[4][0] for info in socket.getaddrinfo(host, None)]
    except OSError:
        pass
    for text in found + ["127.0.0.1", "::1"]:
        try:
            ip = ipaddress.ip_address(str(text).split("%")[0])
        except ValueError:
            continue
        if not ip.is_link_local and not ip.is_unspecified and (not ip.is_loopback or str(text) in ("127.0.0.1", "::1")):
            ips.append(ip)
    return list(dict.fromkeys(names)), list(dict.fromkeys(ips))


def _is_dns_name(text: str) -> bool:
    try:
        return bool(dns_name(text))
    except ValueError:
        return False


def make_certificate(folder: Path, names: list[str], ips: list[Address], days: int = DAYS) -> tuple[Path, Path]:
    """A self-signed certificate for `names` and `ips` (its subject alternative names) and its key, written to
    folder/cert.pem and folder/key.pem (the folder and the key readable by their owner only). ValueError for a
    folder inside the repository."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if inside_repository(folder):
        raise ValueError(f"{folder} is inside the repository: a private key must never be committed")
    names = [dns_name(name) for name in names]
    if not names and not ips:
        raise ValueError("no name or address to make a certificate for")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (names or [str(ips[0])])[0][:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Deep Learning Live (this computer)")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]
                                                       + [x509.IPAddress(ip) for ip in ips]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, cert_path = folder / KEY, folder / CERT
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    os.chmod(key_path, 0o600)  # an older file kept its mode through O_TRUNC
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def read_certificate(path: Path):
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def alternative_names(cert) -> tuple[set[str], set[Address]]:
    from cryptography import x509

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), set(san.get_values_for_type(x509.IPAddress))


def reusable(folder: Path, names: list[str], ips: list[Address]) -> bool:
    """The folder's certificate and key exist, cover `names` and `ips`, and last another RENEW_DAYS days."""
    try:
        cert = read_certificate(folder / CERT)
        have_names, have_ips = alternative_names(cert)
    except Exception:  # noqa: BLE001 - missing, unreadable or not a certificate: make a new one
        return False
    left = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    return ((folder / KEY).is_file() and set(names) <= have_names and set(ips) <= have_ips
            and left > dt.timedelta(days=RENEW_DAYS))


def streamlit_args(cert: Path, key: Path, port: int) -> list[str]:
    return ["run", "app.py", "--server.address", "0.0.0.0", "--server.port", str(port),
            "--server.sslCertFile", str(cert), "--server.sslKeyFile", str(key)]


def fingerprint(cert) -> str:
    from cryptography.hazmat.primitives import hashes

    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.https", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=PORT, help=f"the port to serve on (default {PORT})")
    parser.add_argument("--dir", type=Path, default=None, help=f"where the files go (default {config_dir()})")
    parser.add_argument("--name", action="append", default=[], help="another name to cover (repeatable)")
    parser.add_argument("--ip", action="append", default=[], help="another address to cover (repeatable)")
    parser.add_argument("--only", action="store_true", help="cover only --name and --ip, not this computer's")
    parser.add_argument("--days", type=int, default=DAYS, help=f"validity of a new certificate (default {DAYS})")
    parser.add_argument("--new", action="store_true", help="make a new certificate even if the one there fits")
    parser.add_argument("--print", action="store_true", help="print the command instead of running it")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port {args.port}: not a port from 1 to 65535")
    if not 1 <= args.days <= 825:
        parser.error(f"--days {args.days}: from 1 to 825 (phones refuse longer-lived certificates)")
    try:
        args.ip = [ipaddress.ip_address(ip.strip("[]")) for ip in args.ip]
    except ValueError as error:
        parser.error(f"--ip: {error}")
    try:
        args.name = [dns_name(name) for name in args.name]
    except ValueError as error:
        parser.error(f"--name: {error}")
    args.dir = (args.dir or config_dir()).expanduser()
    if inside_repository(args.dir):
        parser.error(f"--dir {args.dir} is inside the repository: a private key must never be committed there")
    if args.only and not (args.name or args.ip):
        parser.error("--only needs at least one --name or --ip")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names, ips = ([], []) if args.only else this_computer()
    names, ips = list(dict.fromkeys(names + args.name)), list(dict.fromkeys(ips + args.ip))
    made = args.new or not reusable(args.dir, names, ips)
    try:
        cert_path, key_path = (make_certificate(args.dir, names, ips, args.days) if made
                               else (args.dir / CERT, args.dir / KEY))
    except OSError as error:
        print(f"Can't write the certificate in {args.dir}: {error.strerror or error}. Choose a folder with --dir.",
              file=sys.stderr)
        return 1
    cert = read_certificate(cert_path)
    covered = sorted(alternative_names(cert)[0]) + [str(ip) for ip in sorted(alternative_names(cert)[1], key=str)]
    host = next((str(ip) for ip in ips if not ip.is_loopback), names[0] if names else "localhost")
    shown = f"[{host}]" if ":" in host else host
    command = "streamlit " + " ".join(shlex.quote(a) for a in streamlit_args(cert_path, key_path, args.port))
    print(f"{'Made' if made else 'Reusing'} a certificate for: {', '.join(covered)}\n"
          f"  {cert_path} (and its key, {key_path.name}, readable by you only), valid until "
          f"{cert.not_valid_after_utc:%Y-%m-%d}; SHA-256 {fingerprint(cert)}\n\n"
          f"Phones in the room open: https://{shown}:{args.port}\n{WARNING.format(host=shown)}\n")
    if args.print:
        print(f"Serve the app over https, from {ROOT}:\n  {command}")
        return 0
    print(f"Running: {command}", flush=True)
    os.chdir(ROOT)
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", *streamlit_args(cert_path, key_path, args.port)])
    return 0  # not reached: streamlit replaced this process


if __name__ == "__main__":
    sys.exit(main())
