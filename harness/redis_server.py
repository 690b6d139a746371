"""Debian's redis-server as a user process on a free port, nothing on disk (for tests and benchmarks):

    with RedisServer() as server:       # server.url: redis://127.0.0.1:P/0
        ...; server.stop(); server.start()   # the same port, empty again (no persistence), as a restarted Redis
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from harness.server import free_port

BINARY = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
MISSING = "redis-server is not installed (apt-get install -y redis-server)"


class RedisServer:
    def __init__(self, port: int | None = None):
        if BINARY is None:
            raise FileNotFoundError(MISSING)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        self.process = subprocess.Popen(
            [BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--protected-mode", "yes", "--dir", "/tmp", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
