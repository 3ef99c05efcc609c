"""Serving throughput and latency: `assay serve` (uvicorn, one worker) on 127.0.0.1 with a
breast-cancer MLP, one row per request, at 1 and 32 concurrent clients; micro-batched (the
default) and unbatched (``--max-batch 1``), capture off and on; and, in the same run, a bare
FastAPI endpoint on uvicorn that parses the same JSON body into the same pydantic request
model and returns a constant (the web stack's own cost: the ceiling for any model server):

    python benchmarks/serve.py [--requests 2000] [--rounds 3] [--client raw|httpx] [--old-src DIR]
        [--variants]

Clients share the machine with the server. ``raw`` (the default) is one asyncio process
speaking plain HTTP/1.1 over keep-alive connections, a few tens of microseconds of CPU a
request; ``httpx`` is one thread per client with httpx (how the figures before micro-batching
were taken), which costs the machine several times more per request. ``--old-src DIR`` also
serves from another checkout's ``src/`` (e.g. the commit before micro-batching) in the run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
CLIENTS = (1, 32)


def train(project: Path) -> None:
    shutil.copytree(ROOT / "conf", project / "conf")
    for stage in ("prepare", "features", "train"):
        subprocess.run(
            [*assay(), stage, "logger=none", "trainer.enable_progress_bar=false"],
            cwd=project,
            check=True,
            capture_output=True,
        )


def assay() -> list[str]:
    return [sys.executable, "-m", "assayml.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(project: Path, args: list[str], src: str | None = None) -> tuple[subprocess.Popen, str]:
    """A server (``args`` + ``--port``) in ``project``; returns it once /health answers."""
    port = free_port()
    env = dict(os.environ)
    if src:  # another checkout's code
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [*args, "--port", str(port)], cwd=project, env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        try:
            httpx.get(f"{url}/health", timeout=1)
            return process, url
        except httpx.TransportError:
            if process.poll() is not None:
                raise SystemExit(f"{' '.join(args)} exited") from None
            time.sleep(0.2)
    raise SystemExit(f"{' '.join(args)} did not start")


def bare_app(models: Path, port: int) -> None:
    """The bare endpoint: FastAPI parses the body into the request model (the same row
    model ``assay serve`` validates with) and answers a constant."""
    import uvicorn
    from fastapi import FastAPI

    from assayml.serve.rows import request_model, row_model

    schema = json.loads((models / "schema.json").read_text())
    body_model = request_model(row_model(schema))
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    async def predict(body):
        return {"predictions": [0] * len(body.rows)}

    # set here, not as an annotation: `from __future__ import annotations` would leave
    # FastAPI a string it cannot resolve to the local model
    predict.__annotations__ = {"body": body_model, "return": dict[str, list[int]]}
    app.post("/predict")(predict)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def load_raw(url: str, bodies: list[bytes], clients: int, requests: int) -> list[float]:
    """Latencies (s) of ``requests`` POSTs from ``clients`` keep-alive connections."""
    host, port = url.removeprefix("http://").split(":")

    async def client(k: int) -> list[float]:
        reader, writer = await asyncio.open_connection(host, int(port))
        latencies = []
        for i in range(k, requests, clients):
            body = bodies[i % len(bodies)]
            head = (
                f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json"
                f"\r\ncontent-length: {len(body)}\r\n\r\n"
            )
            begin = time.perf_counter()
            writer.write(head.encode() + body)
            status = await reader.readuntil(b"\r\n\r\n")
            length = int(status.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - begin)
            if not status.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"{url}: {status.splitlines()[0].decode()}")
        writer.close()
        return latencies

    async def run() -> list[float]:
        parts = await asyncio.gather(*(client(k) for k in range(clients)))
        return [t for part in parts for t in part]

    return asyncio.run(run())


def load_httpx(url: str, bodies: list[bytes], clients: int, requests: int) -> list[float]:
    import httpx

    def client(k: int) -> list[float]:
        latencies = []
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(k, requests, clients):
                begin = time.perf_counter()
                response = http.post(
                    "/predict",
                    content=bodies[i % len(bodies)],
                    headers={"content-type": "application/json"},
                )
                latencies.append(time.perf_counter() - begin)
                response.raise_for_status()
        return latencies

    with ThreadPoolExecutor(clients) as pool:
        return [t for part in pool.map(client, range(clients)) for t in part]


def measure(load, url: str, bodies: list[bytes], clients: int, requests: int) -> dict:
    """Throughput and latency; the clients' own garbage collector is off meanwhile (a full
    collection in this process, which holds pandas and numpy, stalls every client and
    would count against the server)."""
    gc.collect()
    gc.disable()
    try:
        begin = time.perf_counter()
        latencies = load(url, bodies, clients, requests)
        elapsed = time.perf_counter() - begin
    finally:
        gc.enable()
    ms = np.array(latencies) * 1000
    return {
        "rps": len(ms) / elapsed,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
    }


def servers(
    project: Path, old_src: str | None, variants: bool = False
) -> dict[str, tuple[list[str], str | None]]:
    serve = [*assay(), "serve"]
    bare = [sys.executable, __file__, "--bare", str(project / "models")]
    setups = {
        "bare FastAPI": (bare, None),
        "assay serve, batched": (serve, None),
        "assay serve, --max-batch 1": ([*serve, "--max-batch", "1"], None),
        "assay serve, batched, capture": ([*serve, "--capture", str(project / "cap")], None),
    }
    if old_src:
        setups["assay serve, --old-src"] = (serve, old_src)
    if variants:  # a copy of the model as the second variant and as the shadow
        other = project / "models_b"
        if not other.exists():
            shutil.copytree(project / "models", other)
        ab = ["--variant", f"{project / 'models'}=0.5", "--variant", f"{other}=0.5"]
        setups["assay serve, 2 variants"] = ([*serve, *ab], None)
        setups["assay serve, shadow, capture"] = (
            [*serve, "--shadow", str(other), "--capture", str(project / "cap_shadow")],
            None,
        )
    return setups


def run(args: argparse.Namespace, project: Path) -> dict:
    """Every server started at once (idle ones cost nothing), then ``--rounds`` rounds of
    1 and 32 clients on each in turn, so that a neighbour's load spreads over all of them;
    the median round of each setting is reported."""
    import pandas as pd

    frame = pd.read_parquet(project / "data" / "prepared" / "test.parquet")
    inputs = json.loads((project / "models" / "schema.json").read_text())["inputs"]
    rows = json.loads(frame[inputs].to_json(orient="records"))
    bodies = [json.dumps({"rows": [row]}).encode() for row in rows]
    load = load_raw if args.client == "raw" else load_httpx
    running = {
        name: start(project, command, src)
        for name, (command, src) in servers(project, args.old_src, args.variants).items()
    }
    rounds: dict = {}
    try:
        for url in (url for _, url in running.values()):
            measure(load, url, bodies, 4, 200)  # warm up
        for _ in range(args.rounds):
            for name, (_, url) in running.items():
                for clients in CLIENTS:
                    result = measure(load, url, bodies, clients, args.requests)
                    rounds.setdefault((name, clients), []).append(result)
    finally:
        for process, _ in running.values():
            process.terminate()
            process.wait(timeout=30)
    results: dict = {key: median(values) for key, values in rounds.items()}
    captured = project / "cap"
    results["captured"] = sum(len(p.read_text().splitlines()) for p in captured.glob("*.jsonl"))
    return results


def median(results: list[dict]) -> dict:
    """The round with the median throughput, and every round's throughput and p99."""
    ordered = sorted(results, key=lambda r: r["rps"])
    rounds = {"all_rps": [round(r["rps"]) for r in results]}
    rounds["all_p99"] = [round(r["p99"], 1) for r in results]
    return {**ordered[len(ordered) // 2], **rounds}


def report(results: dict, args: argparse.Namespace) -> None:
    print(
        f"one row per request, {args.requests} requests per setting and round, median of "
        f"{args.rounds} rounds, {args.client} clients, {os.cpu_count()} cores shared by server "
        f"and clients; load average before: {args.load}"
    )
    names = [k[0] for k in results if isinstance(k, tuple) and k[1] == CLIENTS[0]]
    for clients in CLIENTS:
        for name in names:
            r = results[name, clients]
            print(
                f"  {clients:>2} clients, {name:<30}: {r['rps']:6.0f} req/s, "
                f"p50 {r['p50']:6.1f} ms, p99 {r['p99']:6.1f} ms  (rounds: {r['all_rps']} "
                f"req/s, p99 {r['all_p99']} ms)"
            )
    batched, top = results["assay serve, batched", 32], results["bare FastAPI", 32]
    single = results["assay serve, --max-batch 1", 32]
    on = results["assay serve, batched, capture", 32]
    print(f"  32 clients: batched / bare FastAPI {batched['rps'] / top['rps']:.2f} (goal >= 0.5)")
    print(f"  32 clients: batched / --max-batch 1 {batched['rps'] / single['rps']:.2f}")
    print(f"  32 clients: batched / 294 req/s {batched['rps'] / 294:.2f} (goal >= 3)")
    if ("assay serve, --old-src", 32) in results:
        old = results["assay serve, --old-src", 32]
        print(f"  32 clients: batched / --old-src {batched['rps'] / old['rps']:.2f}")
    print(f"  32 clients: capture on / off {on['rps'] / batched['rps']:.2f}")
    for name in ("assay serve, 2 variants", "assay serve, shadow, capture"):
        if (name, 32) in results:
            ratio = results[name, 32]["rps"] / batched["rps"]
            print(f"  32 clients: {name.removeprefix('assay serve, ')} / batched {ratio:.2f}")
    expected = 200 + len(CLIENTS) * args.requests * args.rounds
    print(f"  captured records {results['captured']} of {expected} requests sent with capture on")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per setting (median)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--old-src", help="also serve from this src/ (another checkout)")
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also serve two A/B variants, and a shadow with capture on",
    )
    parser.add_argument("--bare", help=argparse.SUPPRESS)  # MODELS: serve the bare endpoint
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_app(Path(args.bare), args.port)
        return
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        train(Path(tmp))
        results = run(args, Path(tmp))
    report(results, args)
    if args.json:
        flat = {f"{k[0]} @{k[1]}" if isinstance(k, tuple) else k: v for k, v in results.items()}
        Path(args.json).write_text(json.dumps(flat, indent=1))


if __name__ == "__main__":
    main()
