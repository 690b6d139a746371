"""The address a room can open: the Share box's link and QR code must not send phones to `localhost`.

A presenter who runs `streamlit run app.py` on a laptop opens http://localhost:8501: that is the page's URL
(st.context.url), and a phone that scans it opens itself. So, for the link that is shared (`room_base`):

1. a public URL, when one is configured, always: the environment variable DLL_PUBLIC_URL (e.g.
   https://dll.example.org, or http://192.168.1.20:8080 for the compose file's proxy), else Streamlit's own
   browser.serverAddress / browser.serverPort when browser.serverAddress is set (it says "where users should point
   their browsers"); the page's path goes after it;
2. else a page opened on another address than this machine's loopback: its URL as it is (the viewer reached it);
3. else (opened on localhost, 127.x, ::1, 0.0.0.0) it depends on where the server listens (server.address):
   - unset, 0.0.0.0 or :: (every interface): this machine's address on the network (the source address of its
     default route), with the same port; in a container that address is the container's, which the room can't
     reach: a hint to set DLL_PUBLIC_URL instead;
   - a loopback address: nobody else can reach the server: no QR code, a hint with the command that opens it to
     the network (COMMAND);
   - another address: that address.

Bad settings never raise: a DLL_PUBLIC_URL that is not an http(s) link is ignored, and the note says so.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV = "DLL_PUBLIC_URL"
COMMAND = "streamlit run app.py --server.address 0.0.0.0"
HTTPS_COMMAND = "python -m deploy.https"  # a certificate for this computer, and the app served over https
ALL_INTERFACES = ("", "0.0.0.0", "::")
LAN_TTL = 30.0  # seconds a found network address is kept (a laptop changes Wi-Fi rarely; a lookup is a syscall)


@dataclass(frozen=True)
class RoomBase:
    """What to share instead of the page's own URL (no query string: ui/share.py adds the view's)."""
    url: str  # the link's base: scheme, host, port, path
    scannable: bool  # a phone in the room can open it: show the QR code (False: show `note` instead)
    note: str = ""  # one line for the presenter (Markdown), "" when there is nothing to say


@dataclass(frozen=True)
class Settings:
    """Where the server listens and what was configured: read from Streamlit's config and the environment."""
    public: str | None = None  # a configured public URL, normalised (None: none)
    public_problem: str = ""  # why a configured value was ignored
    listen: str | None = None  # server.address (None: unset, every interface)
    base_path: str = ""  # server.baseUrlPath, without slashes
    in_container: bool = False


def is_loopback(host: str | None) -> bool:
    """localhost, *.localhost, 127.0.0.0/8, ::1, and 0.0.0.0 / :: (a browser on this machine can open them)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def public_url(value: str) -> str:
    """A configured public URL, checked: http(s)://host[:port][/path], without a trailing slash. A bare host
    ("dll.example.org") is taken as http://. ValueError saying what is wrong otherwise."""
    value = value.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{parts.scheme}:// is not http:// or https://")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("its port is not a number from 0 to 65535") from None
    if not parts.hostname or any(ch.isspace() for ch in value) or parts.query or parts.fragment:
        raise ValueError("not a link of the form http://host[:port][/path]")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def streamlit_public(address: str, port: int) -> str:
    """browser.serverAddress ("host" or "host/path", as Streamlit allows) and browser.serverPort as a URL: https
    on port 443, the default port left out."""
    if "://" in address:
        return public_url(address)
    host, _, path = address.strip().partition("/")
    scheme = "https" if port == 443 else "http"
    shown_port = "" if port in (80, 443) else f":{port}"
    return public_url(f"{scheme}://{host}{shown_port}" + (f"/{path}" if path else ""))


def settings() -> Settings:
    """This server's settings, read now (cheap: a few dictionary look-ups)."""
    from streamlit import config

    public, problem = None, ""
    env = os.environ.get(ENV, "").strip()
    if env:
        try:
            public = public_url(env)
        except ValueError as e:
            problem = f"{ENV}={env[:80]!r} is ignored: {e}."
    if public is None and config.is_manually_set("browser.serverAddress"):
        address = str(config.get_option("browser.serverAddress") or "")
        if address and not is_loopback(address.split("/")[0].rsplit(":", 1)[0]):
            try:
                public = streamlit_public(address, int(config.get_option("browser.serverPort")))
            except ValueError as e:
                problem = problem or f"browser.serverAddress {address[:80]!r} is ignored: {e}."
    listen = config.get_option("server.address")
    return Settings(public=public, public_problem=problem, listen=str(listen) if listen else None,
                    base_path=str(config.get_option("server.baseUrlPath") or "").strip("/"),
                    in_container=in_container())


def in_container() -> bool:
    """Docker, Podman, Kubernetes: this process's network address is the container's."""
    return (Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
            or "KUBERNETES_SERVICE_HOST" in os.environ)


_lan_cache: tuple[float, str | None] = (-LAN_TTL, None)


def lan_address() -> str | None:
    """This machine's IPv4 address on the network: the source address of its default route (a UDP socket
    "connected" to a documentation address sends nothing); None without a network."""
    global _lan_cache
    at, found = _lan_cache
    if time.monotonic() - at < LAN_TTL:
        return found
    found = None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1, port discard: only the route is looked up
            address = s.getsockname()[0]
        if not is_loopback(address):
            found = address
    except OSError:
        pass
    _lan_cache = (time.monotonic(), found)
    return found


def _with_host(parts, host: str) -> str:
    host = f"[{host}]" if ":" in host else host
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def room_base(url: str, config: Settings, lan=None) -> RoomBase:
    """The link a room can open for a page whose URL (st.context.url, no query string) is `url`; `lan()` gives this
    machine's network address (default lan_address). A plain http link for phones gets one more line: over http
    their browsers give the page no microphone or camera (ui/secure.py), and how to serve https."""
    base = _room_base(url, config, lan)
    parts = urlsplit(base.url)
    if not base.scannable or parts.scheme != "http" or is_loopback(parts.hostname):
        return base
    fix = (f"serve it over https (README, *In front of a room*) and set {ENV} to its https address" if config.public
           else f"`{HTTPS_COMMAND}` serves this app over https")
    line = f"Over http, phones can't record or take photos (browsers allow that on https pages only): {fix}."
    return RoomBase(base.url, True, f"{base.note}\n\n{line}" if base.note else line)


def _room_base(url: str, config: Settings, lan) -> RoomBase:
    parts, lan = urlsplit(url), lan or lan_address
    if config.public:
        path = parts.path
        inner = path.lstrip("/")
        if config.base_path and (inner == config.base_path or inner.startswith(config.base_path + "/")):
            path = "/" + inner[len(config.base_path):].lstrip("/")  # the public URL is the app's root
        return RoomBase(config.public + (path if path != "/" else ""), True, config.public_problem)
    problem = f" {config.public_problem}" if config.public_problem else ""
    if not is_loopback(parts.hostname):
        return RoomBase(url, True, problem.strip())
    everywhere = config.listen is None or config.listen.strip("[]") in ALL_INTERFACES
    if not everywhere and is_loopback(config.listen):
        return RoomBase(url, False, (
            f"Phones can't open **{parts.hostname}**: it is this computer, and this server listens on this computer "
            f"only. Restart it with `{COMMAND}`: the link and the code then use this computer's address on the "
            f"network (or with `{HTTPS_COMMAND}`: the same over https, so that phones can record and take photos). "
            f"Behind a proxy, set {ENV} to the address the room opens." + problem))
    if not everywhere:
        return RoomBase(_with_host(parts, config.listen), True,
                        f"The link uses the address this server listens on ({config.listen})." + problem)
    if config.in_container:
        return RoomBase(url, False, (
            f"Phones can't open **{parts.hostname}**, and inside a container this server can't tell the address "
            f"the room reaches it by: set {ENV} (e.g. `{ENV}=http://192.168.1.20:8080`) where the containers "
            "start." + problem))
    address = lan()
    if address is None:
        return RoomBase(url, False, (
            f"Phones can't open **{parts.hostname}**, and this computer has no network address right now "
            "(no Wi-Fi or cable?): connect it to the room's network and reopen this box." + problem))
    return RoomBase(_with_host(parts, address), True, (
        f"The link uses this computer's address on the network ({address}): phones on the same network can open "
        "it." + problem))
