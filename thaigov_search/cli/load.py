"""A search service under load: start ``thaigov-search serve`` on a free loopback port, send
concurrent keep-alive ``/search`` requests, sample the server's RSS.

Used by ``bench query``, benchmarks/query_suite.py and the reliability scripts.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`thaigov-search serve` in a child process, with its log in a temp file."""

    def __init__(self, index_dir: Path, backend: str | None, model: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="thaigov-bench-serve-", suffix=".log", delete=False)
        env = dict(os.environ)
        if backend:
            env["THAIGOV_SEARCH_BACKEND"] = backend
        if model:
            env["THAIGOV_SEARCH_MODEL"] = model
        cmd = [sys.executable, "-m", "thaigov_search.cli", "serve", "--index-dir", str(index_dir),
               "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {self.proc.returncode}:\n{self.log_tail()}")
            status, body = request_once(self.url, "/health", timeout=2.0)
            if status == 200 and body.get("status") == "ok":
                return
            if body.get("status") == "error":
                raise RuntimeError(f"the server could not open the index: {body.get('detail')}")
            time.sleep(0.2)
        raise RuntimeError(f"the server was not ready after {timeout:g}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on Ctrl-C
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def request_once(base_url: str, path: str, timeout: float = 10.0) -> tuple[int, dict]:
    """One GET on a fresh connection; (0, {}) when nothing answered."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        return resp.status, body if isinstance(body, dict) else {}
    except OSError:
        return 0, {}
    finally:
        conn.close()


class RssSampler(threading.Thread):
    """Peak RSS of a process: VmHWM from /proc where there is one, else sampled with psutil."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            import psutil

            proc = psutil.Process(self.pid)
        except Exception:
            return
        while not self._stop_event.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, proc.memory_info().rss)
            except Exception:
                return
            self._stop_event.wait(self.interval)

    def peak_mb(self) -> float | None:
        self._stop_event.set()
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_bytes = max(self.peak_bytes, int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            pass
        return round(self.peak_bytes / 2**20, 1) if self.peak_bytes else None


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_load(base_url: str, queries: list[str], concurrency: int, duration: float, max_requests: int,
             mode: str, k: int) -> LoadResult:
    """``concurrency`` threads, each with one keep-alive connection, until time or requests run out."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = LoadResult()
    lock = threading.Lock()
    issued = 0
    start = time.perf_counter()
    deadline = start + duration

    def take() -> int | None:
        nonlocal issued
        with lock:
            if issued >= max_requests or time.perf_counter() >= deadline:
                return None
            issued += 1
            return issued - 1

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            while (n := take()) is not None:
                path = "/search?" + urlencode({"q": queries[n % len(queries)], "mode": mode, "k": k})
                t0 = time.perf_counter()
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    resp.read()
                    ok, why = resp.status == 200, f"HTTP {resp.status}"
                except (OSError, http.client.HTTPException) as exc:
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=60)
                elapsed_ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if ok:
                        result.latencies_ms.append(elapsed_ms)
                    else:
                        result.errors += 1
                        if len(result.error_samples) < 5:
                            result.error_samples.append(why)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    return result


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return round(float(np.percentile(values, q)), 2)
