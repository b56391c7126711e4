"""The web app in a real browser: Debian's headless chromium driven by Playwright for Python.

The server runs in a thread on a free loopback port over a store holding the seed pair (the blog
rewrite 000 of the AFP story 001), or the package examples when ../shared/seeds is absent, plus an
article whose text carries markup. Screenshots go to each test's tmp_path.

Local runs skip without /usr/bin/chromium; CI installs it first (.ci/install-browser).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from wiretrace import api
from wiretrace.ingest import text_article

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
EXAMPLES = Path(api.__file__).parent / "examples"

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (.ci/install-browser) to run the "
                "browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


def pair_files() -> tuple[Path, Path]:
    """(rewrite, original): the seed pair, else the examples' heavy paraphrase and wire story."""
    seeds = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
    if len(seeds) >= 2:
        return seeds[0], seeds[1]
    return EXAMPLES / "heavy_paraphrase.txt", EXAMPLES / "wire_original.txt"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Base URL of a live server and the ids of its stored pair."""
    import uvicorn
    from test_web import EVIL_TEXT, build_store

    from wiretrace.options import load_options
    from wiretrace.web import create_app

    options = load_options(env={})
    rewrite, original = pair_files()
    comparison = api.compare(rewrite, original, options)
    db = build_store(tmp_path_factory.mktemp("browser") / "site.db", [comparison],
                     [text_article(EVIL_TEXT, "evil-1")], options)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(db, options, allowed_hosts=("127.0.0.1",))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "derived": comparison.derived.article.id,
           "source": comparison.source.article.id}
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    yield page
    context.close()


IN_VIEW = """([id, paneSel]) => {
  const el = document.getElementById(id), pane = el.closest(paneSel);
  const r = el.getBoundingClientRect(), p = pane.getBoundingClientRect();
  return r.top >= p.top - 1 && r.bottom <= p.bottom + 1 && r.top >= 0 && r.bottom <= innerHeight;
}"""

# The derived sentence with a paraphrase label whose first counterpart lies lowest in its column.
FARTHEST_PARAPHRASE = """() => {
  let best = null, depth = -1;
  for (const el of document.querySelectorAll(".wt-derived .wt-sent.paraphrase[data-links]")) {
    const other = document.getElementById(el.dataset.links.split(" ")[0]);
    if (other && other.offsetTop > depth) { depth = other.offsetTop; best = [el.id, other.id]; }
  }
  return best;
}"""


HIGHLIGHTED = "() => [...document.querySelectorAll('.wt-hl')].map(e => e.id).sort()"
OUTLINED = "id => getComputedStyle(document.getElementById(id)).outlineStyle !== 'none'"


def contract_links(site, page) -> dict[str, list[str]]:
    """What each derived sentence should be linked to, read from the pair's JSON (the contract),
    not from the page under test: {"D14": ["S11"], ...}."""
    data = page.request.get(f"{site['url']}/api/pair/{site['derived']}/{site['source']}").json()
    return {f"D{s['index']}": [f"S{m['index']}" for m in s["matches"]] for s in data["sentences"]
            if s["article"] == data["derived"]["id"] and s["matches"]}


def test_clicking_a_paraphrase_highlights_and_reveals_its_counterpart(site, page, tmp_path):
    response = page.goto(f"{site['url']}/pair/{site['derived']}/{site['source']}")
    assert response.status == 200 and "default-src 'self'" in response.headers["content-security-policy"]
    found = page.evaluate(FARTHEST_PARAPHRASE)
    assert found, "no paraphrased sentence linked to a source sentence on the pair page"
    sentence, counterpart = found
    expected = contract_links(site, page)[sentence]
    assert counterpart in expected
    page.screenshot(path=str(tmp_path / "pair-before.png"), full_page=False)
    assert not page.evaluate(IN_VIEW, [counterpart, ".wt-pane"]), "counterpart visible before the click"
    assert page.evaluate(HIGHLIGHTED) == []
    page.click(f"#{sentence}")
    page.wait_for_function("id => document.getElementById(id).classList.contains('wt-hl')", arg=counterpart)
    page.wait_for_function(IN_VIEW, arg=[counterpart, ".wt-pane"], timeout=5000)
    # Exactly the sentence and its counterparts by the contract are highlighted, and visibly so.
    assert page.evaluate(HIGHLIGHTED) == sorted([sentence, *expected])
    assert "wt-hl-main" in page.get_attribute(f"#{sentence}", "class")
    assert page.evaluate(OUTLINED, counterpart) and page.evaluate(OUTLINED, sentence)
    page.mouse.move(5, 5)  # a pinned highlight stays when the pointer leaves
    assert page.evaluate(HIGHLIGHTED) == sorted([sentence, *expected])
    page.screenshot(path=str(tmp_path / "pair-clicked.png"), full_page=False)
    page.click(f"#{sentence}")  # a second click releases the highlight
    assert page.locator(".wt-hl").count() == 0
    assert not page.dialogs and not page.console_errors


def test_hovering_a_sentence_highlights_both_and_scrolls_the_other_column(site, page, tmp_path):
    page.goto(f"{site['url']}/pair/{site['derived']}/{site['source']}")
    sentence, counterpart = page.evaluate(FARTHEST_PARAPHRASE)
    assert not page.evaluate(IN_VIEW, [counterpart, ".wt-pane"])
    page.hover(f"#{sentence}")
    page.wait_for_function(IN_VIEW, arg=[counterpart, ".wt-pane"], timeout=5000)
    assert page.evaluate(HIGHLIGHTED) == sorted([sentence, *contract_links(site, page)[sentence]])
    page.screenshot(path=str(tmp_path / "pair-hover.png"))
    page.mouse.move(5, 5)  # leaving the sentence clears the highlight
    page.wait_for_function("() => !document.querySelector('.wt-hl')")
    # And from the source side: a used source sentence lights up the derived sentence(s) using it.
    back = page.get_attribute(f"#{counterpart}", "data-links").split()
    page.hover(f"#{counterpart}")
    assert set(page.evaluate(HIGHLIGHTED)) == {counterpart, *back} and sentence in back
    assert not page.dialogs and not page.console_errors


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"{SEEDS} is absent: the seed pair is the canonical case")
def test_seed_paraphrase_of_the_confiscated_weapons_links_to_the_afp_sentence(site, page, tmp_path):
    """PRODUCT.md's example: the blog's re-worded list of confiscated weapons is the AFP sentence."""
    page.goto(f"{site['url']}/pair/{site['derived']}/{site['source']}")
    rewrite = page.locator(".wt-derived .wt-sent", has_text="Kalashnikovs, shotguns")
    assert rewrite.count() == 1 and "paraphrase" in rewrite.get_attribute("class")
    rewrite.click()
    lit = page.locator(".wt-source .wt-sent.wt-hl")
    assert lit.count() == 1 and "Kalashnikov assault rifles, sawn-off shotguns" in lit.inner_text()
    page.wait_for_function(IN_VIEW, arg=[lit.get_attribute("id"), ".wt-pane"], timeout=5000)
    page.screenshot(path=str(tmp_path / "seed-weapons.png"))


def test_left_out_sentences_are_listed_and_found_in_the_source_column(site, page, tmp_path):
    page.goto(f"{site['url']}/pair/{site['derived']}/{site['source']}")
    refs = page.locator(".wt-verdict .wt-omitted summary a.wt-ref")
    assert refs.count() == page.locator(".wt-source .wt-sent.body.omitted").count() > 0
    last = refs.nth(refs.count() - 1)
    target = last.get_attribute("href")[1:]
    assert not page.evaluate(IN_VIEW, [target, ".wt-pane"])
    last.click()
    page.wait_for_function(IN_VIEW, arg=[target, ".wt-pane"], timeout=5000)
    assert "omitted" in page.get_attribute(f"#{target}", "class") and page.evaluate(OUTLINED, target)
    page.click(".wt-omitted summary", position={"x": 4, "y": 4})
    assert page.locator(".wt-omitted li").count() == refs.count()  # opened: each with its text
    page.screenshot(path=str(tmp_path / "left-out.png"))
    assert not page.dialogs and not page.console_errors


def test_search_to_article_to_pair(site, page, tmp_path):
    """A reader's path: search a word of the rewrite's title, open it, open its source side by side."""
    title = page.request.get(f"{site['url']}/api/article/{site['derived']}").json()["article"]["title"]
    word = max(title.split(), key=len).strip(".,:;!?\"'’“”")
    page.goto(site["url"] + "/")
    page.fill("input[name=q]", word)
    page.click("form.wt-search button[type=submit]")
    page.wait_for_url("**/?q=*")
    assert page.locator(".wt-snippet mark").count() > 0  # the word is marked in the snippets
    page.click(f".wt-results a[href='/article/{site['derived']}']")
    assert page.locator("h2", has_text="Likely sources").count() == 1
    row = page.locator(".wt-table tbody tr", has=page.locator(f"a[href='/article/{site['source']}']"))
    assert row.count() == 1 and "derived" in row.inner_text()
    row.locator("a.wt-button", has_text="side by side").click()
    page.wait_for_selector(".wt-columns")
    assert page.url.endswith(f"/pair/{site['derived']}/{site['source']}")
    page.screenshot(path=str(tmp_path / "search-article-pair.png"))
    assert not page.dialogs and not page.console_errors


@pytest.mark.parametrize("path", ["/article/evil-1", "/?q=harbour", "/pair/evil-1/{source}"])
def test_markup_in_an_article_shows_as_text(site, page, tmp_path, path):
    page.goto(site["url"] + path.format(source=site["source"]))
    assert "<script>alert('wt')</script>" in page.inner_text("main")
    assert page.locator("main script, main img").count() == 0
    page.screenshot(path=str(tmp_path / "markup.png"))
    assert not page.dialogs and not page.console_errors


def test_compare_form_gives_the_pair_view(site, page, tmp_path):
    rewrite, original = pair_files()
    page.goto(site["url"] + "/compare")
    page.fill("textarea[name=a]", rewrite.read_text(encoding="utf-8"))
    page.fill("textarea[name=b]", original.read_text(encoding="utf-8"))
    assert "kB of" in page.inner_text(".wt-size[data-for=a]")  # app.js counts the bytes
    page.click("button[type=submit]")
    page.wait_for_selector(".wt-columns")
    assert page.locator(".wt-derived .wt-sent[data-links]").count() > 0
    page.screenshot(path=str(tmp_path / "compare.png"))
    assert not page.dialogs and not page.console_errors


def test_family_page_draws_the_lineage(site, page, tmp_path):
    page.goto(f"{site['url']}/family/{site['derived']}")
    assert page.locator(".wt-tree .wt-root").count() == 1
    assert page.locator(f".wt-tree li[data-id='{site['source']}'] li[data-id='{site['derived']}']").count() == 1
    assert page.locator("svg .wt-tl-row").count() == 2
    page.hover(f".wt-tl-row[data-id='{site['derived']}'] circle")
    assert "wt-hl" in page.get_attribute(f".wt-tree li[data-id='{site['derived']}']", "class")
    page.screenshot(path=str(tmp_path / "family.png"), full_page=True)
    assert not page.dialogs and not page.console_errors
