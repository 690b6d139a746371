"""deploy/: two replicas of the app behind deploy/nginx.conf (nginx as a user process), viewers uploading a photo and
fetching the media it shows through the proxy; the same without affinity fails; the Dockerfile, the compose file and
the Kubernetes manifest checked (the manifest against Kubernetes' schema, offline)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import ipaddress
import re
import shutil
import ssl
import subprocess

import pytest
import yaml

from conftest import ROOT
from harness import replicas
from harness.run_async import run as run_async
from harness.server import free_port, start_server, stop_server

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


def requirement(name: str) -> str:
    (version,) = re.findall(rf"^{name}==([^\s#]+)", (ROOT / "requirements.txt").read_text(), re.M)
    return version


# ---- two replicas behind nginx ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    """Two `streamlit run app.py` servers on localhost ports, started side by side."""
    ports = [free_port(), free_port()]
    logs = [tmp_path_factory.mktemp("replicas") / f"replica-{port}.log" for port in ports]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        started = [pool.submit(start_server, port, log) for port, log in zip(ports, logs)]
        servers = [future.result() for future in started]
    try:
        yield ports
    finally:
        for server in servers:
            stop_server(server)


async def viewers(url: str, count: int, tls: ssl.SSLContext | None = None) -> list[replicas.Result]:
    return list(await asyncio.gather(*(replicas.upload_a_photo(url, tls=tls) for _ in range(count))))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A certificate for 127.0.0.1 made by deploy/https.py (what `python -m deploy.https --print` writes), and a
    client context that trusts it alone: the viewers below check it as a browser does."""
    from deploy import https

    cert, key = https.make_certificate(tmp_path_factory.mktemp("tls"), ["localhost"],
                                       [ipaddress.ip_address("127.0.0.1")])
    return cert, key, ssl.create_default_context(cafile=str(cert))


@needs_nginx
def test_viewers_through_nginx_upload_and_see_media_on_their_own_replica_and_both_replicas_serve(two_replicas):
    """Six new viewers at once through deploy/nginx.conf: each uploads a photo (PUT), gets the answer, and fetches
    the page's /media images; every HTTP request of a viewer reached one replica; both replicas served viewers."""
    served = set()
    with replicas.nginx(two_replicas) as url:
        results = run_async(viewers(url, 6))
        for _ in range(16):  # the replica comes from a hash of a random cookie: a seventh viewer and on, if needed
            served = {r.replica for r in results}
            if len(served) == 2:
                break
            results += run_async(viewers(url, 1))
    for result in results:
        assert not result.failures, result
        assert result.answer.startswith(replicas.UPLOAD_ANSWER) and result.media >= 2, result
        assert result.replicas == {result.replica}, result  # affinity: health, page, upload, media on one replica
    assert served == {f"127.0.0.1:{port}" for port in two_replicas}, served


@needs_nginx
def test_without_affinity_uploads_or_media_reach_the_wrong_replica(two_replicas):
    """The control: the same file with round-robin instead of the hash. A viewer's upload (HTTP 400, "Invalid
    session_id") or its media (404) reach the replica that does not hold its session: this is what the affinity of
    the test above prevents, so that test can fail."""
    with replicas.nginx(two_replicas, affinity=False) as url:
        results = run_async(viewers(url, 4))
    failures = [f for r in results for f in r.failures]
    assert failures, results
    for failure in failures:
        assert re.match(r"upload: HTTP 400 Invalid session_id|media /media/\S+: HTTP 404", failure), failure


@needs_nginx
def test_over_https_the_proxy_redirects_http_marks_its_cookie_secure_and_carries_uploads_and_websockets(
        two_replicas, certificate):
    """The file as it ships: https (the certificate checked by the viewers), http answered with a redirect to the same
    path over https, the affinity cookie Secure; two viewers upload a photo over https and talk to their replica
    over wss://, each on one replica."""
    cert, key, trust = certificate
    http_port = free_port()
    with replicas.nginx(two_replicas, tls=(cert, key), http_port=http_port) as url:
        assert url.startswith("https://")
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/photos?source=upload")
        response = plain.getresponse()
        assert response.status == 308 and response.headers["Location"] == f"{url}/photos?source=upload"
        plain.close()
        secure = http.client.HTTPSConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10, context=trust)
        secure.request("GET", "/_stcore/health")
        response = secure.getresponse()
        assert response.status == 200 and response.read() == b"ok"
        (cookie,) = [c for c in response.headers.get_all("Set-Cookie") if c.startswith("dll_replica=")]
        assert "; Secure" in cookie and "HttpOnly" in cookie
        secure.close()
        results = run_async(viewers(url, 2, trust))
    for result in results:
        assert not result.failures, result
        assert result.answer.startswith(replicas.UPLOAD_ANSWER) and result.media >= 2, result
        assert result.replicas == {result.replica}, result


@needs_nginx
@pytest.mark.parametrize("tls", [True, False], ids=["https", "plain"])
def test_nginx_accepts_the_config(tmp_path, tls, certificate):
    conf = tmp_path / "nginx.conf"
    conf.write_text(replicas.nginx_config([8501, 8502], free_port(), tmp_path, tls=certificate[:2] if tls else None))
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_the_nginx_config_keeps_websockets_and_affinity():
    site = (DEPLOY / "nginx.conf").read_text()
    for line in ("hash $dll_affinity consistent;", "proxy_set_header Upgrade $http_upgrade;",
                 "proxy_set_header Connection $connection_upgrade;", "proxy_http_version 1.1;",
                 "add_header Set-Cookie $dll_set_cookie;", "client_max_body_size 26m;"):
        assert line in site, line
    assert not re.search(r"^\s*ip_hash", site, re.M)  # every 127.0.0.x (and each /24) on one replica
    # https: phones get the microphone and camera on https pages only; http only redirects there
    for line in ("listen 8443 ssl;", "ssl_certificate /etc/nginx/certs/cert.pem;",
                 "ssl_certificate_key /etc/nginx/certs/key.pem;", "return 308 https://$host:8443$request_uri;"):
        assert line in site, line
    assert re.search(r'"dll_replica=\$request_id;[^"]*; Secure;', site)
    http_server = re.search(r"^server \{\n    listen 8080;\n(.*?)^\}", site, re.M | re.S).group(1)
    assert "proxy_pass" not in http_server  # nothing served over plain http
    upload_mb = int(re.search(r"maxUploadSize = (\d+)", (ROOT / ".streamlit" / "config.toml").read_text())[1])
    assert int(re.search(r"client_max_body_size (\d+)m", site)[1]) > upload_mb


# ---- the container recipe and the compose file -------------------------------------------------------------------
def test_dockerfile():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    for name, arg in (("torch", "TORCH"), ("torchvision", "TORCHVISION"), ("torchaudio", "TORCHAUDIO")):
        assert f"ARG {arg}={requirement(name)}\n" in dockerfile, name  # the CPU wheels of requirements.txt's versions
        assert f'"{name}==${{{arg}}}+cpu"' in dockerfile
    assert "--index-url https://download.pytorch.org/whl/cpu" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/_stcore/health", dockerfile, re.M)
    assert "EXPOSE 8501" in dockerfile and '"--server.port", "8501"' in dockerfile
    assert '"--server.address", "0.0.0.0"' in dockerfile
    assert "sed '/^# tests/,$d' requirements.txt" in dockerfile and "# tests" in (ROOT / "requirements.txt").read_text()


def test_dockerignore_keeps_what_the_app_runs():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", "data", "runs", "tests"} <= ignored
    for needed in ("app.py", "app_pages", "ui", "models", "assets", ".streamlit", "requirements.txt"):
        assert needed not in ignored and f"/{needed}" not in ignored, needed
    weights = list((ROOT / "models" / "weights").glob("*.safetensors"))
    assert weights and not any(pattern in ignored for pattern in ("*.safetensors", "models/weights", "weights"))


def test_compose_runs_replicas_behind_the_nginx_config():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app, proxy = compose["services"]["app"], compose["services"]["proxy"]
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == (DEPLOY / "Dockerfile")
    assert app["deploy"]["replicas"] >= 2 and "ports" not in app  # only the proxy reaches the replicas
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    # the certificate's folder (python -m deploy.https's, by default) where deploy/nginx.conf reads it
    (certs,) = [v for v in proxy["volumes"] if v.endswith(":/etc/nginx/certs:ro")]
    assert "deep-learning-live" in certs and "DLL_CERT_DIR" in certs
    assert any(port.endswith(":8443") for port in proxy["ports"])
    assert any(port.endswith(":8080") for port in proxy["ports"]) and "listen 8080;" in (DEPLOY / "nginx.conf").read_text()
    assert proxy["depends_on"]["app"]["condition"] == "service_healthy"
    assert "DLL_PUBLIC_URL" in app["environment"]


# ---- Kubernetes ---------------------------------------------------------------------------------------------------
def manifest() -> list[dict]:
    return list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))


def test_kubernetes_manifest_against_the_schema():
    """kubernetes-validate ships Kubernetes' JSON schemas: no network. Strict: a misspelt field fails too."""
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    kinds = []
    for resource in manifest():
        kubernetes_validate.validate(resource, version, strict=True)
        kinds.append(resource["kind"])
    assert kinds == ["Deployment", "Service", "Ingress", "Deployment", "Service"]  # the app, then Redis
    deployment, service, *_ = manifest()
    broken = [{**service, "spec": {**service["spec"], "sessionAfinity": "ClientIP"}},  # misspelt
              {**deployment, "spec": {**deployment["spec"], "replicas": "three"}}]
    for resource in broken:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(resource, version, strict=True)


def test_kubernetes_manifest_keeps_viewers_on_their_replica():
    deployment, service, ingress, *_ = manifest()
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert deployment["spec"]["replicas"] >= 2
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # WebSockets stay open
    (container,) = pod["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == 8501
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == service["metadata"]["name"]


def test_kubernetes_ingress_serves_https_for_its_host_and_the_public_url_is_it():
    """Phones record and take photos on https pages only: the Ingress's `tls:` covers its host (a Secret, which
    cert-manager makes, as the file's comment says), the cookie is Secure, and DLL_PUBLIC_URL is that https host."""
    deployment, _, ingress, *_ = manifest()  # then Redis
    (tls,) = ingress["spec"]["tls"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert tls["secretName"] and set(hosts) <= set(tls["hosts"])
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-secure"] == "true"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    public = {e["name"]: e.get("value") for e in container["env"]}["DLL_PUBLIC_URL"]
    assert public == f"https://{hosts[0]}"
    assert "cert-manager" in (DEPLOY / "kubernetes.yaml").read_text()
    import kubernetes_validate

    broken = {**ingress, "spec": {**ingress["spec"], "tls": [{"hosts": "dll.example.org", "secretName": 3}]}}
    with pytest.raises(kubernetes_validate.ValidationError):  # the schema checks the tls section too
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_redis_for_the_rooms_is_internal_and_keeps_nothing_on_disk():
    """compose and Kubernetes: the replicas read DLL_ROOM_REDIS, pointing at a Redis reached only inside (no
    published port, no Ingress, a ClusterIP Service), started with no snapshot and no append-only file."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app, redis = compose["services"]["app"], compose["services"]["redis"]
    assert app["environment"]["DLL_ROOM_REDIS"] == "redis://redis:6379/0"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ports" not in redis and "volumes" not in redis
    assert redis["command"][:5] == ["redis-server", "--save", "", "--appendonly", "no"]
    deployment, _, ingress, redis_deployment, redis_service = manifest()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    url = {e["name"]: e["value"] for e in container["env"]}["DLL_ROOM_REDIS"]
    assert url == f"redis://{redis_service['metadata']['name']}:6379/0"
    assert redis_service["spec"]["type"] == "ClusterIP"
    assert redis_service["spec"]["selector"].items() <= redis_deployment["spec"]["template"]["metadata"]["labels"].items()
    (redis_container,) = redis_deployment["spec"]["template"]["spec"]["containers"]
    assert redis_container["args"][:4] == ["--save", "", "--appendonly", "no"]
    assert "volumes" not in redis_deployment["spec"]["template"]["spec"]
    assert all(path["backend"]["service"]["name"] != redis_service["metadata"]["name"]
               for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"])
