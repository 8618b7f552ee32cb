"""Crawl throughput: fetch + extract + dedup of ~2,000 pages from a local server.

    .venv/bin/python benchmarks/crawl.py [--pages 2000] [--concurrency 16] [--extract-workers 1]
    .venv/bin/python benchmarks/crawl.py --fetch-only   # the HTTP client alone

The pages are syndicated copies of real Reuters-21578 stories on publisher templates
(``benchmarks/_syndicate.py``, data from ``$NEWSDEDUP_DATA``, default ``../shared/data``);
without the data set, copies of the demo site's invented stories are used instead. They are
served by a ``ThreadingHTTPServer`` in a **separate process** (so the server does not share the
crawler's GIL) and discovered through one sitemap. Politeness delays are off and loopback is
allowed; robots.txt is still fetched and obeyed. Prints pages/s, the crawler process's CPU
time per page (much less sensitive to other load on the machine than pages/s), the server's CPU
and the crawler's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from newsdedup._crawl import CrawlConfig, crawl  # noqa: E402
from newsdedup._fetch import FetchConfig, Fetcher, FetchErrorRecord  # noqa: E402


def build_pages(n: int, seed: int) -> list[str]:
    data = Path(os.environ.get("NEWSDEDUP_DATA", ROOT.parent / "shared" / "data"))
    if (data / "reuters21578" / "reuters21578.jsonl.gz").exists():
        try:
            import _syndicate

            pages, _gold = _syndicate.build(data, stories=max(1, int(n / 3.5)), seed=seed, negative_pairs=0)
            htmls = [p.html for p in pages]
            while len(htmls) < n:  # top up with more stories if the draw came out short
                more, _ = _syndicate.build(data, stories=max(1, int((n - len(htmls)) / 3)), seed=seed + len(htmls),
                                           negative_pairs=0)  # fmt: skip
                htmls.extend(p.html for p in more)
            print(f"pages: {n} syndicated Reuters-21578 copies ({data})", file=sys.stderr)
            return htmls[:n]
        except Exception as exc:  # the benchmark still runs on the fallback pages
            print(f"could not build Reuters pages ({exc}); using demo stories", file=sys.stderr)
    from newsdedup._demo.site import load_stories

    stories = load_stories()["wire"]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        story = stories[i % len(stories)]
        paras = list(story["paragraphs"])
        paras.insert(
            rng.randrange(len(paras)), f"Update {i}: officials said figures would be revised on day {i % 97}."
        )
        body = "".join(f"<p>{p}</p>" for p in paras)
        out.append(f"<html><head><title>{story['title']}</title></head><body><nav>Home News</nav>"
                   f"<article><h1>{story['title']}</h1>{body}</article><footer>Site {i % 40}</footer></body></html>")  # fmt: skip
    print(f"pages: {n} copies of the demo stories (no data set found)", file=sys.stderr)
    return out


def serve(pages: list[str], port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    bodies = {f"/news/{i}-story": html.encode("utf-8") for i, html in enumerate(pages)}
    base_holder: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # separate header/body writes: no delayed-ACK stalls

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nDisallow: /private/\n", "text/plain"
            elif self.path == "/sitemap.xml.gz":
                locs = "".join(f"<url><loc>{base_holder[0]}{p}</loc></url>" for p in bodies)
                xml = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
                body, ctype = gzip.compress(xml.encode(), compresslevel=1), "application/x-gzip"
            elif self.path in bodies:
                body, ctype = bodies[self.path], "text/html; charset=utf-8"
            else:
                body, ctype = b"not found", "text/plain"
                self.send_response(404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base_holder.append(f"http://127.0.0.1:{server.server_address[1]}")
    port_queue.put(server.server_address[1])
    server.serve_forever(poll_interval=0.1)


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds used so far by process ``pid`` (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _fetch_only(port: int, n: int, fetch_config: FetchConfig, concurrency: int) -> int:
    """The fetcher alone: the HTTP client's cost per page without extraction and dedup."""
    urls = [f"http://127.0.0.1:{port}/news/{i}-story" for i in range(n)]

    async def run() -> tuple[float, float, int]:
        async with Fetcher(fetch_config) as fetcher:
            await fetcher.fetch(urls[0])  # robots.txt and the first connection are not counted
            start, cpu_start = time.perf_counter(), time.process_time()
            results = await fetcher.fetch_many(urls, concurrency=concurrency)
            errors = sum(1 for r in results if isinstance(r, FetchErrorRecord))
            return time.perf_counter() - start, time.process_time() - cpu_start, errors

    elapsed, cpu, errors = asyncio.run(run())
    print(f"fetch only: {n} pages in {elapsed:.2f}s ({n / elapsed:.0f} pages/s), errors: {errors}, "
          f"concurrency {concurrency}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"crawler process CPU: {cpu:.2f}s ({cpu / n * 1000:.2f} ms/page)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--extract-workers",
        type=int,
        default=1,
        help="extraction processes (0: extract in the crawler's event loop)",
    )
    parser.add_argument(
        "--fetch-only",
        action="store_true",
        help="only fetch the article URLs with Fetcher.fetch_many (no discovery, extraction or dedup)",
    )
    args = parser.parse_args()

    pages = build_pages(args.pages, args.seed)
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    proc = mp.Process(target=serve, args=(pages, queue), daemon=True)
    proc.start()
    try:
        port = queue.get(timeout=60)
        del pages
        fetch_config = FetchConfig(
            allow_private=True,
            per_host_delay=0.0,
            per_host_concurrency=args.concurrency,
            max_connections=args.concurrency,
            total_timeout=30.0,
        )
        config = CrawlConfig(max_pages=args.pages, concurrency=args.concurrency, max_feed_entries=args.pages,
                             extract_workers=args.extract_workers)  # fmt: skip
        if args.fetch_only:
            return _fetch_only(port, args.pages, fetch_config, args.concurrency)
        import newsdedup._dedup
        import newsdedup._extract  # noqa: F401  (one-time import cost is not crawl throughput)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        cpu_start = time.process_time()
        result = crawl([f"http://127.0.0.1:{port}/sitemap.xml.gz"], fetch_config=fetch_config, config=config)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        server_cpu = _process_cpu(proc.pid)
    finally:
        proc.terminate()
        proc.join(timeout=5)
    s = result.stats
    print(
        f"pages fetched: {s.pages}  articles: {s.articles}  clusters: {len(result.clusters)}  errors: {len(result.errors)}"
    )
    load = os.getloadavg()[0]
    print(
        f"extract workers: {args.extract_workers}  concurrency: {args.concurrency}  load average: {load:.1f}"
    )
    fetch_phase = elapsed - s.dedup_seconds
    print(
        f"fetch+extract phase: {fetch_phase:.2f}s ({s.pages / fetch_phase:.0f} pages/s)  dedup phase: {s.dedup_seconds:.2f}s"
    )
    print(f"elapsed: {elapsed:.2f}s  throughput: {s.pages / elapsed:.0f} pages/s (fetch + extract + dedup)")
    # CPU of the crawler process alone (not the server, not extraction workers): what the
    # fetcher and crawler cost per page, much less sensitive to other load than pages/s.
    print(f"crawler process CPU: {cpu:.2f}s ({cpu / max(1, s.pages) * 1000:.2f} ms/page)")
    if server_cpu is not None:
        print(
            f"server process CPU (whole run): {server_cpu:.2f}s ({server_cpu / max(1, s.pages) * 1000:.2f} ms/page)"
        )
    print(
        f"peak RSS of the crawler process: {peak / 1024:.0f} MiB (before crawl: {rss_before / 1024:.0f} MiB)"
    )
    kinds: dict[str, int] = {}
    for e in result.errors:
        kinds[e.error] = kinds.get(e.error, 0) + 1
    if kinds:
        print(f"errors by kind: {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
