"""Evidence for `wiretrace serve`: server time of the pair page, and screenshots of the pair page
on the seed pair and of the family page of the largest Helsinki family.

    python bench/web_pair.py build   [--db /tmp/wiretrace-web/web.db]   # once: add + scan (minutes)
    python bench/web_pair.py snapshot [--db ...]   # while build scans: copy + families so far
    python bench/web_pair.py measure [--db ...] [--requests 50] [--out /tmp/wiretrace-web]

`build` adds the seed pair, the package examples and the 612 Helsinki articles to a store with
`api.add` (the Helsinki CSV is first rewritten as JSONL records beside the store, so that `add`
reads it like any other file), then runs `corpus.scan` over the store (pairs, families, stories).
Re-running it is cheap: `add` skips stored articles and `scan` skips scanned ones.

`measure` times the pair page in process (Starlette's TestClient, the whole request: routing,
store read, rendering) over N requests, HTML and JSON, for the stored seed pair, and prints
p50/p95; then it serves the store on a loopback port and writes the two screenshots with
headless chromium. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's wiretrace, not whichever copy is installed
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
HELSINKI = SHARED / "data" / "helsinki"
EXAMPLES = ROOT / "wiretrace" / "examples"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def build(db: Path, workers: int) -> None:
    from wiretrace import api, corpus, datasets
    from wiretrace.options import load_options
    from wiretrace.store import Store

    db.parent.mkdir(parents=True, exist_ok=True)
    records = db.parent / "helsinki.jsonl"
    with records.open("w", encoding="utf-8") as out:
        for a in datasets.load_helsinki(HELSINKI):
            out.write(json.dumps({"id": a.id, "title": a.title, "outlet": a.outlet, "published": a.published,
                                  "language": a.language, "text": a.text}, ensure_ascii=False) + "\n")
    paths = sorted(SEEDS.glob("*.txt")) + sorted(EXAMPLES.glob("*.txt")) + [records]
    options = load_options()
    t0 = time.perf_counter()
    with Store(db) as store:
        added = api.add(paths, store, options)
        print(f"add: {added.added} added, {added.unchanged} unchanged, {added.failed} failed "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
        for err in added.errors:
            print("  ", err, flush=True)
        t0 = time.perf_counter()
        scanned = corpus.scan(store, options, workers=workers)
        print(f"scan: {scanned.scanned} scanned, {scanned.compared} pairs aligned, {scanned.pairs_found} derived, "
              f"{len(scanned.families)} families, {scanned.stories} stories in {time.perf_counter() - t0:.0f} s",
              flush=True)


def snapshot(db: Path, copy: Path) -> None:
    """A consistent copy of a store that `build` is still scanning, with the reuse families of
    the pairs found so far (the scan writes families only at its end)."""
    import sqlite3

    from wiretrace.cluster import family_rows, reuse_families
    from wiretrace.options import load_options
    from wiretrace.store import Store

    copy.unlink(missing_ok=True)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with Store(copy) as store:
        families = reuse_families(store.iter_pairs(), load_options())
        store.save_families(family_rows(families), replace_all=True)
        print(f"snapshot {copy}: {store.count()} articles, {sum(1 for _ in store.iter_pairs())} pairs, "
              f"{len(families)} families", flush=True)


def seed_pair(store) -> tuple[str, str]:
    """(derived, source) of the stored seed pair, in the order the store holds it."""
    a, b = (p.stem for p in sorted(SEEDS.glob("*.txt"))[:2])
    for d, s in ((a, b), (b, a)):
        if store.get_pair(d, s):
            return d, s
    raise SystemExit(f"the store holds no pair of {a} and {b}: run `build` first")


def largest_family(store) -> tuple[str, int]:
    """(root, size) of the largest family whose members are Helsinki articles."""
    members: dict[str, set[str]] = {}
    for family, parent, child, _ in store.iter_families():
        members.setdefault(family, set()).update((parent, child))
    helsinki = {f: m for f, m in members.items() if all(x.startswith("helsinki-") for x in m)}
    if not helsinki:
        raise SystemExit("no Helsinki family in the store: run `build` first")
    family = max(helsinki, key=lambda f: (len(helsinki[f]), f))
    return family, len(helsinki[family])  # a family is named after its root


def time_pages(db: Path, url: str, requests: int) -> None:
    from fastapi.testclient import TestClient

    from wiretrace.web import create_app

    with TestClient(create_app(db)) as client:
        for fmt, suffix in (("html", ""), ("json", "?format=json")):
            client.get(url + suffix)  # warm: templates compiled, first connection
            times, server = [], []
            for _ in range(requests):
                t0 = time.perf_counter()
                response = client.get(url + suffix)
                times.append(1000 * (time.perf_counter() - t0))
                assert response.status_code == 200, response.text[:300]
                server.append(float(response.headers["server-timing"].split("dur=")[1]))
            q = statistics.quantiles(times, n=20)
            s = statistics.quantiles(server, n=20)
            print(f"pair page {fmt:4}: {requests} requests, {len(response.content):,} bytes, "
                  f"{response.headers['x-wiretrace-pair']}; request p50 {statistics.median(times):.1f} ms, "
                  f"p95 {q[18]:.1f} ms; handler (Server-Timing) p50 {statistics.median(server):.1f} ms, "
                  f"p95 {s[18]:.1f} ms", flush=True)


CLICK_FARTHEST_PARAPHRASE = """() => {
  let best = null, depth = -1;
  for (const el of document.querySelectorAll(".wt-derived .wt-sent.paraphrase[data-links]")) {
    const other = document.getElementById(el.dataset.links.split(" ")[0]);
    if (other && other.offsetTop > depth) { depth = other.offsetTop; best = el; }
  }
  const pane = best.closest(".wt-pane");
  pane.scrollTop = best.offsetTop - pane.clientHeight / 3;
  best.click();
  return [best.id, [...document.querySelectorAll(".wt-hl")].map(e => e.id).filter(i => i !== best.id)];
}"""


def screenshots(db: Path, pair_url: str, family_url: str, out: Path) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from wiretrace.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(db, allowed_hosts=("127.0.0.1",)), host="127.0.0.1",
                                           port=port, log_level="warning", ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base + pair_url)
            # Show the linking with the verdict still on top: scroll the derived column (not the
            # window) to the paraphrase whose source sentence lies lowest, and click it there.
            clicked = page.evaluate(CLICK_FARTHEST_PARAPHRASE)
            page.wait_for_timeout(800)  # the source column's smooth scroll
            print(f"pair page: clicked {clicked[0]}, highlighted {', '.join(clicked[1])}", flush=True)
            page.screenshot(path=str(out / "pair-seed.png"))
            print("screenshot:", out / "pair-seed.png", flush=True)
            page.goto(base + family_url)
            page.screenshot(path=str(out / "family-helsinki.png"), full_page=True)
            print("screenshot:", out / "family-helsinki.png", flush=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def measure(db: Path, requests: int, out: Path) -> None:
    from urllib.parse import quote

    from wiretrace.store import Store

    out.mkdir(parents=True, exist_ok=True)
    with Store(db, readonly=True) as store:
        derived, source = seed_pair(store)
        root, size = largest_family(store)
        print(f"store {db}: {store.count()} articles; seed pair {derived} <- {source}; "
              f"largest Helsinki family: {size} articles, root {root}", flush=True)
    pair_url = f"/pair/{quote(derived)}/{quote(source)}"
    time_pages(db, pair_url, requests)
    screenshots(db, pair_url, f"/family/{quote(root)}", out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("build", "snapshot", "measure"))
    parser.add_argument("--db", type=Path, default=Path("/tmp/wiretrace-web/web.db"))
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/wiretrace-web"))
    args = parser.parse_args(argv)
    if not HELSINKI.is_dir() or not SEEDS.is_dir():
        sys.exit(f"needs {SEEDS} and {HELSINKI}")
    if args.step == "build":
        build(args.db, args.workers)
    elif args.step == "snapshot":
        snapshot(args.db, args.db.with_name(args.db.stem + "-snapshot.db"))
    else:
        measure(args.db, args.requests, args.out)


if __name__ == "__main__":
    main()
