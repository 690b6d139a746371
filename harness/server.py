"""The app's server as the tests and benchmarks run it: `streamlit run app.py` on a free port, and its resource use."""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path | None = None, timeout: float = 120, poll: float = 0.3,
                 cpus: set[int] | None = None, tls: tuple[Path, Path] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on `port`, its output in `log` (None: discarded); returns once /_stcore/health
    answers (polled every `poll` s). RuntimeError when the port is taken, the server exits, or `timeout` s pass.
    cpus: the cores it may run on (Linux; e.g. one replica per core), None: any. tls: (certificate, key) files:
    served over https only (Streamlit's server.sslCertFile / sslKeyFile)."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already in use (another server?): choose another")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
           str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    if tls is not None:
        cmd += ["--server.sslCertFile", str(tls[0]), "--server.sslKeyFile", str(tls[1])]
    health = f"{'https' if tls else 'http'}://127.0.0.1:{port}/_stcore/health"
    # Only whether it answers: the certificate is the test's own (browsers and clients check it themselves).
    context = ssl._create_unverified_context() if tls else None
    out = log.open("w") if log is not None else subprocess.DEVNULL
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=pin)
    where = f": see {log}" if log is not None else ""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(health, timeout=2, context=context) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}{where}")
        time.sleep(poll)
    stop_server(server)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:g} s{where}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def processes(root: int) -> dict[int, tuple[int, float]]:
    """pid -> (RSS bytes, CPU seconds) for `root` and all its descendants (psutil, else /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        out = {}
        try:
            top = psutil.Process(root)
            for p in [top, *top.children(recursive=True)]:
                with p.oneshot():
                    cpu = p.cpu_times()
                    out[p.pid] = (p.memory_info().rss, cpu.user + cpu.system)
        except psutil.Error:
            pass
        return out
    tick, stats = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.listdir("/proc"):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24 of stat: resident pages
            stats[int(entry)] = (int(fields[1]), rss, (int(fields[11]) + int(fields[12])) / tick)
        except (ValueError, OSError, IndexError):
            continue
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in out:
            out[pid] = stats[pid][1:]
            todo += [child for child, (ppid, *_) in stats.items() if ppid == pid]
    return out


class Sampler(threading.Thread):
    """Every `interval` s: the server's RSS and CPU % (its process and children; 100 % = one core), and the
    CPU % of the rest of this process's tree (the client: browsers, or this process alone)."""

    def __init__(self, server_pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.server_pid, self.interval, self.done = server_pid, interval, threading.Event()
        self.rss, self.server_cpu, self.client_cpu = [], [], []

    def run(self) -> None:
        before, t0 = processes(os.getpid()), time.perf_counter()
        while not self.done.wait(self.interval):
            now, t1 = processes(os.getpid()), time.perf_counter()
            server = processes(self.server_pid)
            cpu = {pid: now[pid][1] - before.get(pid, (0, 0.0))[1] for pid in now}  # new processes: all of theirs
            self.rss.append(sum(rss for rss, _ in server.values()))
            self.server_cpu.append(100 * sum(cpu.get(pid, 0.0) for pid in server) / (t1 - t0))
            self.client_cpu.append(100 * sum(c for pid, c in cpu.items() if pid not in server) / (t1 - t0))
            before, t0 = now, t1

    def stop(self) -> None:
        self.done.set()
        self.join()


def server_rss(pid: int) -> int:
    """Bytes resident in the server's process and its children."""
    return sum(rss for rss, _ in processes(pid).values())


def log_tracebacks(log: Path) -> int:
    """How many tracebacks the server's log holds so far."""
    return log.read_text(errors="replace").count("Traceback")
