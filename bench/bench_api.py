"""Benchmark of kbot's HTTP API: latency, throughput, cold start and memory, next to the in-process figures.

    .venv/bin/python bench/bench_api.py             # everything (about 3 minutes); writes bench/results.json
    .venv/bin/python bench/bench_api.py --quick     # fewer requests, no --workers 2 run
    .venv/bin/python bench/bench_api.py --quick --workers 2   # the series against two workers (kbot serve --workers 2)
    KBOT_SEEDS_DIR=kbs/nih .venv/bin/python bench/bench_api.py --quick --index-dir /tmp/full/index \
        --questions eval/nih/dev.jsonl               # another library, served as the default one, its questions

What it does, each step in its own process so that the figures are not mixed up:

1. builds the real index (all-MiniLM-L6-v2) where ``kbot serve`` reads it (``index/``, or ``--index-dir``) unless it
   is there and up to date;
2. starts the server (``python -m kbot.api.server``, what ``kbot serve`` runs, with ``--workers``: 1 unless told) on
   127.0.0.1 and times process start to the first 200 from /readyz (cold start);
3. drives it from a second process (asyncio + httpx, keep-alive connections, closed loop) at concurrency 1, 8 and
   32: distinct questions never asked before (each a fresh paraphrase, so the answer cache cannot help), then at
   concurrency 32 a clinic-like mix where most questions repeat;
4. reads the server's peak resident memory (VmHWM) and, with ``--workers 2``, each worker's RSS and PSS, overall and
   for the memory-mapped index files (PSS about half of RSS there means the two workers share the same pages);
5. answers the same questions in-process (``KbotService.ask`` / ``ask_batch``, no HTTP) for comparison.

The rate limit is switched off for the run (KBOT_RATE_LIMIT_PER_MINUTE=0); every other setting is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
INDEX_FILES = (".faiss", ".npy")  # every memory-mapped file of a build (FAISS indexes, views, pieces, BM25)

# ------------------------------------------------------------------------------------------------ questions

_OPENERS = [
    "", "Can you tell me ", "I'd like to know ", "Please explain ", "Quick question: ", "My sister asked me ",
    "I keep wondering ", "Could you clarify ", "I read online and want to check ", "Help me understand ",
    "Honest answer please: ", "Before my appointment, I want to know ",
]  # fmt: skip
_TOPICS = [
    "whether ketamine is an opioid", "how ketamine works in the brain", "if ketamine is addictive",
    "why people think ketamine is an opiate", "what receptor ketamine blocks", "what NMDA receptors do",
    "how ketamine differs from opioids", "what the 2018 Stanford study found about ketamine",
    "why naltrexone changed ketamine's effect", "whether ketamine is safe for depression",
    "how fast ketamine works for depression", "what Spravato is", "how Spravato differs from ketamine",
    "what schedule ketamine is in", "whether ketamine acts on opioid receptors",
    "what glutamate has to do with ketamine", "if ketamine is used for pain", "what a dissociative anesthetic is",
    "what Johns Hopkins researchers say about ketamine",
    "whether ketamine is a narcotic", "what ketamine treatment is like in a clinic", "how ketamine affects mood",
    "if ketamine helps PTSD", "what mTOR has to do with ketamine", "whether ketamine is safe in opioid recovery",
]  # fmt: skip
_CLOSERS = [
    "?", " please?", ", thanks?", " for my mom?", " in simple words?", " exactly?", " briefly?", " for a patient?",
    " if you know?", " according to the articles?", " for my dad?", " in plain English?", " for a friend?",
    " if that makes sense?", " at all?",
]  # fmt: skip

_FREQUENT_FALLBACK = [
    "Is ketamine an opioid?", "Is ketamine addictive?", "How does ketamine work in the brain?",
    "What is Spravato?", "Is ketamine safe for depression?", "Why do people think ketamine is an opioid?",
    "How is ketamine different from opioids?", "What receptor does ketamine block?",
]  # fmt: skip


def _asked() -> list[str]:
    """The answerable questions of ``--questions`` (BENCH_QUESTIONS, so that every phase sees it), or none."""
    path = os.environ.get("BENCH_QUESTIONS")
    if not path:
        return []
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("kind") == "answerable"]


def _topics() -> list[str]:
    asked = _asked()
    return [q[0].lower() + q[1:].rstrip(" ?") for q in asked] if asked else _TOPICS


def unseen_questions() -> list[str]:
    """Distinct paraphrases (distinct after the cache's normalisation too), in a fixed shuffled order."""
    questions = [f"{o}{t}{c}" for o in _OPENERS for t in _topics() for c in _CLOSERS]
    questions = [q[0].upper() + q[1:] for q in questions]
    random.Random(7).shuffle(questions)
    return questions


def frequent_questions() -> list[str]:
    """What patients ask most: --questions' first 40, else the gold set's when present, else a short built-in list."""
    if _asked():
        return _asked()[:40]
    gold = ROOT / "eval" / "gold.jsonl"
    if gold.is_file():
        rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
        found = [r["question"] for r in rows if r.get("kind") == "answerable"][:40]
        if found:
            return found
    return list(_FREQUENT_FALLBACK)


def clinic_mix(count: int, unseen: list[str], share_new: float = 0.1) -> list[str]:
    """``count`` questions: mostly repeats of the frequent ones (Zipf-like weights), ``share_new`` never seen."""
    rng = random.Random(11)
    frequent = frequent_questions()
    weights = [1 / (rank + 1) for rank in range(len(frequent))]
    fresh = iter(unseen)
    return [next(fresh) if rng.random() < share_new else rng.choices(frequent, weights)[0] for _ in range(count)]


# ------------------------------------------------------------------------------------------------ helpers


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    ordered = sorted(latencies_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmHWM = peak resident memory, VmRSS = now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def smaps_totals(pid: int) -> dict[str, float]:
    """RSS and PSS in MB, for the whole process and for the memory-mapped index files, and its anonymous memory (its
    own heap: what a second worker adds, where the mapped index files are shared)."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    fields = ("Rss", "Pss", "Anonymous")
    total = {k: int(re.search(rf"^{k}:\s+(\d+)", rollup, re.M).group(1)) for k in fields}  # type: ignore[union-attr]
    index = {"Rss": 0, "Pss": 0}
    current = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            current = line
        elif current.endswith(INDEX_FILES) and line.split(":")[0] in index:
            index[line.split(":")[0]] += int(line.split()[1])
    return {
        "rss_mb": round(total["Rss"] / 1024, 1),
        "pss_mb": round(total["Pss"] / 1024, 1),
        "anonymous_mb": round(total["Anonymous"] / 1024, 1),
        "index_rss_kb": index["Rss"],
        "index_pss_kb": index["Pss"],
    }


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def run_phase(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run one phase of this script in a fresh process; it prints one JSON document."""
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    return json.loads(out.stdout)


def server_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "KBOT_RATE_LIMIT_PER_MINUTE": "0"}


def settings() -> Any:
    from kbot.config import Settings

    return Settings()


# ------------------------------------------------------------------------------------------------ phases


def phase_build() -> dict[str, Any]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from kbot.errors import IndexCorrupt, IndexMissing, IndexStale
    from kbot.index import build_index, load_index
    from kbot.reader import reader_id

    s = settings()
    try:
        load_index(s.index_dir / "default", s.seeds_dir, s.model_name, reader_id(s))
        return {"built": False, "index_dir": str(s.index_dir)}
    except (IndexMissing, IndexStale, IndexCorrupt):
        from kbot.embedding import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        build_index(s.seeds_dir, s.index_dir / "default", embedder, s.passage_sentences, reader_id(s))
        return {"built": True, "index_dir": str(s.index_dir)}


class RawClient:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams: POST JSON, read a Content-Length response.

    httpx spends a few milliseconds of CPU per request under concurrency, on the same two cores as the server; this
    spends a fraction of one, so the figures are the server's (``--client httpx`` uses httpx instead)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        headers = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(headers[0].split()[1])
        length = next(int(h.split(":")[1]) for h in headers if h.lower().startswith("content-length:"))
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _drive(url: str, questions: list[str], concurrency: int, client: str, rate: float = 0) -> dict[str, Any]:
    """Closed loop (each of ``concurrency`` connections sends its next question when the last is answered), or with
    ``rate`` > 0 an open loop: question i is due at i / rate seconds, and its latency counts from then, so queueing
    in a slow server is not hidden by a client that waits for it."""
    import httpx

    latencies: list[float] = []
    errors = 0
    statuses: dict[str, int] = {}
    queue = iter(enumerate(questions))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    shared = httpx.AsyncClient(base_url=url, limits=limits, timeout=30) if client == "httpx" else None

    async def post(raw: RawClient | None, question: str) -> tuple[int, bytes]:
        if raw is not None:
            return await raw.post("/v1/ask", {"question": question})
        assert shared is not None
        response = await shared.post("/v1/ask", json={"question": question})
        return response.status_code, response.content

    async def worker() -> None:
        nonlocal errors
        raw = RawClient(url) if client == "raw" else None
        for i, question in queue:
            started = time.perf_counter()
            if rate:
                started = began + i / rate
                await asyncio.sleep(max(0.0, started - time.perf_counter()))
            try:
                code, content = await post(raw, question)
                ok = code == 200
                if ok:
                    status = json.loads(content)["status"]
                    statuses[status] = statuses.get(status, 0) + 1
            except (OSError, ValueError, asyncio.IncompleteReadError, httpx.HTTPError):
                ok = False
                raw = RawClient(url) if client == "raw" else None
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not ok
        if raw is not None:
            await raw.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    if shared is not None:
        await shared.aclose()
    return {
        "requests": len(questions),
        "errors": errors,
        "rps": round(len(questions) / elapsed, 1),
        **percentiles(latencies),
        "statuses": statuses,
        "client": client,
    }


def phase_load(
    url: str, workload: str, concurrency: int, count: int, offset: int, client: str = "raw", rate: float = 0
) -> dict[str, Any]:
    unseen = unseen_questions()
    if workload == "unseen":
        questions = unseen[offset : offset + count]
        assert len(questions) == count, "not enough distinct questions: lower the request counts"
    else:
        questions = clinic_mix(count, unseen[offset:])
    try:
        import uvloop

        return uvloop.run(_drive(url, questions, concurrency, client, rate))
    except ImportError:
        return asyncio.run(_drive(url, questions, concurrency, client, rate))


def phase_inprocess(plan: list[dict[str, Any]]) -> dict[str, Any]:
    """The same questions answered with no HTTP: ``ask`` one at a time at c=1, ``ask_batch`` of c questions else
    (with the same LRU cache for the mix)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from kbot.api.batching import LRUCache, normalise
    from kbot.service import KbotService

    service = KbotService.load(settings())
    unseen = unseen_questions()
    for q in unseen[-20:]:  # warm up, as the server is warmed up by its first requests
        service.ask(q)
    results: dict[str, Any] = {}
    for step in plan:
        if step["rate"]:  # a fixed rate measures the HTTP server's queueing; in-process has none to show
            continue
        c, n, offset = step["concurrency"], step["requests"], step["offset"]
        questions = unseen[offset : offset + n] if step["workload"] == "unseen" else clinic_mix(n, unseen[offset:])
        cache: LRUCache[str, Any] = LRUCache(1024 if step["workload"] == "mix" else 0)
        latencies: list[float] = []
        began = time.perf_counter()
        for i in range(0, n, c):
            chunk = questions[i : i + c]
            started = time.perf_counter()
            misses = list(dict.fromkeys(q for q in chunk if cache.get(normalise(q)) is None))
            for q, a in zip(misses, service.ask_batch(misses) if misses else [], strict=True):
                cache.put(normalise(q), a)
            latencies += [(time.perf_counter() - started) * 1000] * len(chunk)
        elapsed = time.perf_counter() - began
        results[step["name"]] = {"requests": n, "rps": round(n / elapsed, 1), **percentiles(latencies)}
    return results


# ------------------------------------------------------------------------------------------------ orchestration


class Server:
    def __init__(self, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "kbot.api.server", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(workers)]  # at the default log level: one log line per request, as in production
        self.log = Path(tempfile.gettempdir()) / f"kbot-bench-server-{workers}w.log"
        self.started = time.perf_counter()
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, env=server_env(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        self.cold_start_s = self._wait_ready(workers)

    def _wait_ready(self, workers: int) -> float:
        import httpx

        deadline = self.started + 180
        while time.perf_counter() < deadline:
            assert self.process.poll() is None, f"the server exited; see {self.log}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200 and self._all_ready(workers):
                    return round(time.perf_counter() - self.started, 2)
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise TimeoutError("the server was not ready within 180 s")

    def _all_ready(self, workers: int) -> bool:
        """With several workers each new connection lands on one of them: 8 ready answers per worker in a row."""
        import httpx

        if workers == 1:
            return True
        return all(httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200 for _ in range(8 * workers))

    def memory(self) -> dict[str, Any]:
        pid = self.process.pid
        workers = children(pid) or [pid]
        return {
            "peak_rss_mb": [round(proc_kb(w, "VmHWM") / 1024, 1) for w in workers],
            "now": [smaps_totals(w) for w in workers],
        }

    def stop(self) -> None:
        self.process.send_signal(2)  # SIGINT: uvicorn's graceful shutdown
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests and no --workers 2 run")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the server the series runs on")
    parser.add_argument("--phase", choices=["build", "load", "inprocess"], help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="load client (default: raw)")
    parser.add_argument("--index-dir", type=Path, help="index folder [default: the one kbot serve uses]")
    parser.add_argument(
        "--questions", type=Path, help="a gold file whose answerable questions to ask (default: ketamine)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the figures [default: {RESULTS}]")
    parser.add_argument("--arg", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_dir:
        os.environ["KBOT_INDEX_DIR"] = str(args.index_dir.resolve())
    if args.questions:
        os.environ["BENCH_QUESTIONS"] = str(args.questions.resolve())
    if args.phase:
        given = json.loads(args.arg)
        result = {"build": phase_build, "load": phase_load, "inprocess": phase_inprocess}[args.phase](**given)
        print(json.dumps(result))
        return
    scale = 0.25 if args.quick else 1.0
    plan, offset = [], 0
    for name, workload, c, n, rate in [
        ("unseen c=1", "unseen", 1, 200, 0),
        ("unseen c=8", "unseen", 8, 400, 0),
        ("unseen c=32", "unseen", 32, 640, 0),
        ("mix c=32", "mix", 32, 4000, 0),
        ("unseen at 200 req/s, c=32", "unseen", 32, 600, 200),
        ("mix at 200 req/s, c=32", "mix", 32, 2000, 200),
    ]:
        n = int(n * scale)
        plan.append(
            {"name": name, "workload": workload, "concurrency": c, "requests": n, "offset": offset, "rate": rate}
        )
        offset += n if workload == "unseen" else int(n * 0.2)  # the mix's new questions come after these

    print("building the index if needed ...", file=sys.stderr)
    run_phase("--phase", "build")
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}}

    print(f"starting the server ({args.workers} worker(s)) ...", file=sys.stderr)
    server = Server(workers=args.workers)
    results["workers"] = args.workers
    results["cold_start_s"] = server.cold_start_s

    def load(url: str, workload: str, concurrency: int, count: int, offset: int, rate: float = 0) -> dict[str, Any]:
        given = {"workload": workload, "concurrency": concurrency, "count": count, "offset": offset, "rate": rate}
        return run_phase("--phase", "load", "--arg", json.dumps({"url": url, "client": args.client, **given}))

    load(server.url, "unseen", 4, 20, len(unseen_questions()) - 20)  # warm-up
    results["http"] = {}
    for step in plan:
        print(f"  {step['name']}: {step['requests']} requests ...", file=sys.stderr)
        results["http"][step["name"]] = load(
            server.url, step["workload"], step["concurrency"], step["requests"], step["offset"], step["rate"]
        )
    results["memory_1_worker" if args.workers == 1 else f"memory_{args.workers}_workers"] = server.memory()
    server.stop()

    if not args.quick and args.workers == 1:
        print("starting the server with --workers 2 ...", file=sys.stderr)
        server = Server(workers=2)
        results["cold_start_2_workers_s"] = server.cold_start_s
        results["http"]["mix c=32, 2 workers"] = load(server.url, "mix", 32, 2000, offset)
        results["memory_2_workers"] = server.memory()
        server.stop()

    print("in-process figures ...", file=sys.stderr)
    results["in_process"] = run_phase("--phase", "inprocess", "--arg", json.dumps({"plan": plan}), env=server_env())
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(report(results))


def report(results: dict[str, Any]) -> str:
    lines = [
        "| workload | requests | errors | HTTP p50 / p95 / p99 ms | HTTP req/s "
        "| in-process p50 / p95 / p99 ms | in-process q/s |",
        "|---|---:|---:|---|---:|---|---:|",
    ]
    for name, h in results["http"].items():
        p = results["in_process"].get(name)
        inproc = f"{p['p50_ms']} / {p['p95_ms']} / {p['p99_ms']} | {p['rps']}" if p else "– | –"
        lines.append(
            f"| {name} | {h['requests']} | {h['errors']} | {h['p50_ms']} / {h['p95_ms']} / {h['p99_ms']} | "
            f"{h['rps']} | {inproc} |"
        )
    lines.append("")
    workers = results.get("workers", 1)
    lines.append(f"cold start (process start to /readyz 200, {workers} worker(s)): {results['cold_start_s']} s")
    if "memory_1_worker" in results:
        m1 = results["memory_1_worker"]
        now = m1["now"][0]
        lines.append(
            f"1 worker: peak RSS {m1['peak_rss_mb'][0]} MB; after the load, RSS {now['rss_mb']} MB, of it its own "
            f"(anonymous) {now.get('anonymous_mb', '?')} MB and mapped index files {now['index_rss_kb'] // 1024} MB"
        )
    if "cold_start_2_workers_s" in results:
        lines.append(f"cold start, 2 workers: {results['cold_start_2_workers_s']} s")
    for key in [k for k in results if k.startswith("memory_") and k != "memory_1_worker"]:
        for i, (peak, now) in enumerate(zip(results[key]["peak_rss_mb"], results[key]["now"], strict=True)):
            lines.append(
                f"worker {i + 1}: peak RSS {peak} MB, RSS {now['rss_mb']} MB, PSS {now['pss_mb']} MB, "
                f"anonymous {now.get('anonymous_mb', '?')} MB; "
                f"index files mapped: RSS {now['index_rss_kb']} kB, PSS {now['index_pss_kb']} kB"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
