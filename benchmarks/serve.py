"""Serving throughput and latency: `assay serve` (uvicorn, one worker) on 127.0.0.1 with a
breast-cancer MLP, one row per request, at 1 and 32 concurrent clients, with data capture
off and on (capture off is the baseline of the same run):

    python benchmarks/serve.py [--requests 2000]

The clients (httpx, one thread each) share the machine with the server, as they would in
a load test on one box; on 2 cores they take a good part of it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def train(project: Path) -> None:
    shutil.copytree(ROOT / "conf", project / "conf")
    for stage in ("prepare", "features", "train"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "assayml.cli.main",
                stage,
                "logger=none",
                "trainer.enable_progress_bar=false",
            ],
            cwd=project,
            check=True,
            capture_output=True,
        )


def start(project: Path, capture: Path | None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "assayml.cli.main", "serve", "--port", str(port)]
    args += ["--capture", str(capture)] if capture else []
    process = subprocess.Popen(args, cwd=project, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        try:
            httpx.get(f"{url}/health", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("assay serve did not start")


def load(url: str, rows: list[dict], clients: int, requests: int) -> dict[str, float]:
    import httpx

    def client(k: int) -> list[float]:
        latencies = []
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(k, requests, clients):
                begin = time.perf_counter()
                response = http.post("/predict", json={"rows": [rows[i % len(rows)]]})
                latencies.append(time.perf_counter() - begin)
                response.raise_for_status()
        return latencies

    start_time = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for part in pool.map(client, range(clients)) for t in part]
    elapsed = time.perf_counter() - start_time
    ms = np.array(latencies) * 1000
    return {"rps": len(ms) / elapsed, "p50": np.percentile(ms, 50), "p99": np.percentile(ms, 99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        train(project)
        frame = pd.read_parquet(project / "data" / "prepared" / "test.parquet")
        inputs = json.loads((project / "models" / "schema.json").read_text())["inputs"]
        rows = json.loads(frame[inputs].to_json(orient="records"))
        results = {}
        for capture in (False, True):
            folder = project / "captured" if capture else None
            process, url = start(project, folder)
            try:
                load(url, rows, 4, 200)  # warm up
                for clients in (1, 32):
                    results[capture, clients] = load(url, rows, clients, args.requests)
            finally:
                process.terminate()
                process.wait(timeout=30)
            if folder:
                lines = sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))
                results["captured"] = lines
    print(
        f"assay serve, one row per request, {args.requests} requests per setting, "
        f"{os.cpu_count()} cores shared by server and clients:"
    )
    for clients in (1, 32):
        off, on = results[False, clients], results[True, clients]
        for name, r in (("capture off", off), ("capture on", on)):
            print(
                f"  {clients:>2} clients, {name:<11}: {r['rps']:7.0f} req/s, p50 "
                f"{r['p50']:6.1f} ms, p99 {r['p99']:6.1f} ms"
            )
        print(f"  {clients:>2} clients: capture on / off throughput {on['rps'] / off['rps']:.2f}")
    expected = 200 + 2 * args.requests
    print(f"  captured records {results['captured']} of {expected} requests sent with capture on")


if __name__ == "__main__":
    main()
