"""Replicas behind nginx on one machine, as tests/test_deploy.py runs them: deploy/nginx.conf itself, its upstream
pointed at `streamlit run` servers on localhost ports, nginx as a user process; and a viewer that goes through the
proxy as a browser does: cookies kept, the page over the WebSocket, a photo uploaded (HTTP PUT), the media shown.

    ports = [free_port(), free_port()]  # each a server: harness.server.start_server(port)
    with nginx(ports) as url:           # http://127.0.0.1:P, deploy/nginx.conf's affinity (affinity=False: none)
        result = asyncio.run(upload_a_photo(url))

With tls=(certificate, key) nginx serves the file as it ships: https, and http redirected to it (`http_port`);
without, its https server is made plain http and the redirect left out (the benchmarks: the routing, TLS aside).
"""
from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import shutil
import re
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

from harness.server import ROOT, free_port

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
UPSTREAM = "    server app:8501 max_fails=3 fail_timeout=10s;\n"
LISTEN = "    listen 8080;\n"  # the plain http server: a redirect to https
HTTPS_LISTEN = "    listen 8443 ssl;\n"
REDIRECT = "https://$host:8443$request_uri"
CERTIFICATE = ("/etc/nginx/certs/cert.pem;", "/etc/nginx/certs/key.pem;")
AFFINITY = "    hash $dll_affinity consistent;\n"
SET_COOKIE = "        add_header Set-Cookie $dll_set_cookie;\n"
UPLOAD_PAGE, UPLOAD_QUERY = "photos", "source=upload"  # the photo page, opened on its uploader
UPLOAD_ANSWER = "It's a cat"


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise ValueError(f"deploy/nginx.conf no longer has the line {old.strip()!r} once: update harness/replicas.py")
    return text.replace(old, new)


def nginx_config(ports: list[int], listen: int, folder: Path, affinity: bool = True,
                 tls: tuple[Path, Path] | None = None, http_port: int | None = None) -> str:
    """A whole nginx.conf for a user process: deploy/nginx.conf inside `http { }`, its upstream = the servers on
    `ports`, listening on 127.0.0.1:`listen`, its files in `folder`; each response says which replica answered
    (X-Replica). affinity=False: round-robin, the control that shows why affinity is needed. tls: (certificate, key):
    https on `listen` and the redirect from http on `http_port`; None: plain http on `listen`, no redirect."""
    site = NGINX_CONF.read_text(encoding="utf-8")
    site = _replace_once(site, UPSTREAM, "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n"
                                                 for p in ports))
    if tls is not None:
        site = _replace_once(site, HTTPS_LISTEN, f"    listen 127.0.0.1:{listen} ssl;\n")
        site = _replace_once(site, REDIRECT, REDIRECT.replace("8443", str(listen)))
        site = _replace_once(site, LISTEN, f"    listen 127.0.0.1:{http_port or free_port()};\n")
        for shipped, path in zip(CERTIFICATE, tls):
            site = _replace_once(site, shipped, f"{path};")
    else:
        redirect = re.search(r"^server \{\n" + re.escape(LISTEN) + r".*?^\}\n", site, re.M | re.S)
        if redirect is None:
            raise ValueError("deploy/nginx.conf no longer has its http server block: update harness/replicas.py")
        site = site.replace(redirect.group(0), "")
        site = _replace_once(site, HTTPS_LISTEN, f"    listen 127.0.0.1:{listen};\n")
        site = re.sub(r"^    ssl_.*\n", "", site, flags=re.M)
        site = _replace_once(site, "Secure; ", "")  # a browser drops a Secure cookie that came over http
    site = _replace_once(site, SET_COOKIE, SET_COOKIE + "        add_header X-Replica $upstream_addr always;\n")
    if not affinity:
        site = _replace_once(site, AFFINITY, "")
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                            "scgi"))
    return (f"worker_processes 1;\ndaemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n    access_log off;\n{temp}\n{site}\n}}\n")


@contextlib.contextmanager
def nginx(ports: list[int], affinity: bool = True, timeout: float = 10, tls: tuple[Path, Path] | None = None,
          http_port: int | None = None):
    """nginx in front of the servers on `ports`, as a child process; yields its base URL (https:// with `tls`, its
    http redirect on `http_port`); stopped after."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        raise FileNotFoundError("nginx is not installed (apt-get install -y nginx)")
    listen = free_port()
    with tempfile.TemporaryDirectory(prefix="dll-nginx-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # started as root, nginx's workers run as nobody: they write request bodies below it
        conf = folder / "nginx.conf"
        conf.write_text(nginx_config(ports, listen, folder, affinity, tls, http_port), encoding="utf-8")
        process = subprocess.Popen([binary, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + timeout
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", listen)) == 0:
                        break
                if process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read().decode(errors='replace')}")
                time.sleep(0.05)
            yield f"{'https' if tls else 'http'}://127.0.0.1:{listen}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ---- a viewer through the proxy ---------------------------------------------------------------------------------
@dataclass
class Result:
    """What one viewer saw: the replica its first request reached, and each request or run that went wrong."""
    replica: str = ""
    replicas: set = field(default_factory=set)  # every replica that answered one of its HTTP requests
    answer: str = ""
    media: int = 0  # /media files fetched
    failures: list = field(default_factory=list)


class Browser:
    """An HTTP client that keeps cookies, as a browser's tab does (one host)."""

    def __init__(self, base: str, result: Result, tls: ssl.SSLContext | None = None):
        self.base, self.result, self.cookies, self.tls = base, result, SimpleCookie(), tls

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        parts = urlsplit(self.base)
        connection = (http.client.HTTPSConnection(parts.hostname, parts.port, timeout=60, context=self.tls)
                      if parts.scheme == "https" else http.client.HTTPConnection(parts.hostname, parts.port, timeout=60))
        try:
            connection.request(method, path, body=body, headers={"Cookie": self.cookie_header(), **(headers or {})})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(value)
        if replica := response.headers.get("X-Replica"):
            self.result.replicas.add(replica)
        return response.status, response.headers, data


def cat_photo() -> bytes:
    """A photo of a cat that is not the page's example: scikit-image's chelsea.png mirrored and cropped (as
    benchmarks/load.py uploads)."""
    from importlib import resources

    from PIL import Image, ImageOps

    chelsea = Image.open(resources.files("skimage") / "data" / "chelsea.png").convert("RGB")
    buffer = io.BytesIO()
    ImageOps.mirror(chelsea).crop((20, 0, 451, 300)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def multipart(name: str, data: bytes, mime: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def upload_a_photo(base: str, timeout: float = 60, tls: ssl.SSLContext | None = None) -> Result:
    """One new viewer through the proxy at `base`: the app's health and page (HTTP), the home page and the photo
    page over the WebSocket, a photo uploaded (PUT) and read by the page, and every /media image the page shows.
    tls: what an https `base` is checked with (e.g. a context that trusts the test's certificate)."""
    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    from benchmarks.load_ws import Session, first

    result = Result()
    tab = Browser(base, result, tls)
    call = asyncio.to_thread
    status, headers, _ = await call(tab.request, "GET", "/_stcore/health")
    result.replica = headers.get("X-Replica", "")
    if status != 200:
        result.failures.append(f"health: HTTP {status}")
    status, _, page = await call(tab.request, "GET", "/")
    if status != 200 or b'id="root"' not in page:
        result.failures.append(f"page: HTTP {status}")
    session = Session(re.sub(r"^http", "ws", base) + "/_stcore/stream", timeout,  # https -> wss
                      headers={"Cookie": tab.cookie_header()}, tls=tls)
    await session.open()
    async def fetch_media(run) -> None:
        for element in run.elements:
            if element.WhichOneof("type") == "imgs":
                for image in element.imgs.imgs:
                    status, _, data = await call(tab.request, "GET", image.url)
                    result.media += 1
                    if status != 200 or not data:
                        result.failures.append(f"media {image.url}: HTTP {status}")

    try:
        await session.rerun(page="")
        run = await session.rerun(page=UPLOAD_PAGE, query=UPLOAD_QUERY)
        await fetch_media(run)  # the Share box's QR code
        (uploader,) = [e.file_uploader for e in run.elements if e.WhichOneof("type") == "file_uploader"]
        (urls,) = await session.file_urls(["my cat.jpg"])
        photo = cat_photo()
        body, mime = multipart("my cat.jpg", photo, "image/jpeg")
        xsrf = tab.cookies["_streamlit_xsrf"].value if "_streamlit_xsrf" in tab.cookies else ""
        status, _, detail = await call(tab.request, "PUT", urls.upload_url, body,
                                       {"Content-Type": mime, "X-Xsrftoken": xsrf})
        if status != 204:
            result.failures.append(f"upload: HTTP {status} {detail[:120].decode(errors='replace')}")
            return result
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = "my cat.jpg", len(photo), urls.file_id
        info.file_urls.CopyFrom(FileURLs(file_id=urls.file_id, upload_url=urls.upload_url, delete_url=urls.delete_url))
        run = await session.rerun(widgets=[state])
        result.answer = first(run, rf"^{UPLOAD_ANSWER}") or ""
        if not result.answer:
            result.failures.append(f"answer: no {UPLOAD_ANSWER!r} after the upload ({run.problems or 'no error'})")
        await fetch_media(run)
        if not result.media:
            result.failures.append("media: the page showed no image")
    finally:
        await session.close()
    return result
