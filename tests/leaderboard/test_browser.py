"""The leaderboard in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, once over ``http.server`` on 127.0.0.1 and once from ``file://``."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from domainteb.eval.leaderboard import build_site

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary: apt-get install -y chromium"),
]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def site(results_dir: Path, tmp_path: Path) -> Path:
    build_site(results_dir, tmp_path / "site", n_boot=200)
    return tmp_path / "site"


@pytest.fixture(scope="module")
def board_site(tmp_path_factory: pytest.TempPathFactory, mteb_results: Path) -> Path:
    """The medical ranking board (domainteb results) together with a folder written by mteb itself."""
    from board_factory import make_board_results

    root = tmp_path_factory.mktemp("board")
    build_site([make_board_results(root / "results"), mteb_results], root / "site", n_boot=1000)
    return root / "site"


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            yield b
        finally:
            b.close()


def _models(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#board tbody tr.model-row", "rows => rows.map(r => r.dataset.model)")


def _cell(page, model: str, col: str) -> str:  # type: ignore[no-untyped-def]
    return page.inner_text(f'#board tr.model-row[data-model="{model}"] td[data-col="{col}"]').strip()


def test_leaderboard_in_browser_over_http(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/index.html")
    assert page.locator("#domains a[href='finance.html']").count() == 1
    page.click("nav a[href='finance.html']")
    page.wait_for_selector("#board tbody tr.model-row")

    # Overall tab: by Borda rank (#); Mean(Task) over 3 of 4 tasks is flagged "*"; blanks stay blank.
    assert _models(page) == ["ft-minilm", "minilm-l6", "pruned-50", "bm25"]
    assert [_cell(page, m, "borda") for m in _models(page)] == ["1", "2", "3", "4"]
    assert _cell(page, "ft-minilm", "avg:all") == "66.16"
    assert _cell(page, "pruned-50", "avg:STS") == ""
    assert page.locator('#board tr.model-row[data-model="minilm-l6"] td[data-col="avg:all"] .partial').count() == 1

    # Click a header: sort by the STS average, then again to flip the order.
    page.click('#board th[data-col="avg:STS"]')
    assert _models(page) == ["ft-minilm", "minilm-l6", "bm25", "pruned-50"]  # blank last
    page.click('#board th[data-col="avg:STS"]')
    assert _models(page) == ["bm25", "minilm-l6", "ft-minilm", "pruned-50"]  # blank still last
    page.click('#board th[data-col="model"]')
    assert _models(page) == ["bm25", "ft-minilm", "minilm-l6", "pruned-50"]

    # Switch to the Retrieval tab: per-task columns, FinFilings blank for minilm-l6.
    page.click('#tabs button[data-tab="Retrieval"]')
    headers = page.eval_on_selector_all("#board thead th", "ths => ths.map(t => t.dataset.col)")
    assert headers[3:7] == ["avg:Retrieval", "task:FinFilings", "task:FinNews", "task:FinQA"]
    assert _cell(page, "minilm-l6", "task:FinFilings") == ""
    assert _cell(page, "ft-minilm", "task:FinFilings") == "61.84"
    assert _models(page) == ["ft-minilm", "pruned-50", "bm25", "minilm-l6"]
    assert "best" in page.get_attribute('#board tr.model-row[data-model="ft-minilm"] td[data-col="avg:Retrieval"]', "class")

    # Filters: adapted only, then a size range that excludes BM25 (no size) and nothing else.
    page.select_option("#kind", "adapted")
    assert sorted(_models(page)) == ["ft-minilm", "pruned-50"]
    page.select_option("#kind", "all")
    page.fill("#min-size", "10")
    page.fill("#max-size", "30")
    assert sorted(_models(page)) == ["ft-minilm", "minilm-l6", "pruned-50"]
    page.select_option("#access", "api")
    assert _models(page) == []
    assert page.is_visible("#empty")
    page.click("#reset")
    assert len(_models(page)) == 4

    # Model details with the MLflow link.
    page.click('#board tr.model-row[data-model="ft-minilm"] button.model-name')
    details = page.inner_text('#board tr.details[data-details-for="ft-minilm"]')
    assert "synthetic finance queries" in details and "apache-2.0" in details and "22,700,000" in details
    assert page.get_attribute('tr.details a.mlflow-link', "href") == "http://127.0.0.1:5000/#/runs/r1"

    # Downloads point at the data files, which the server serves.
    assert page.get_attribute("#dl-csv", "href") == "data/finance.csv"
    response = page.request.get(f"{server}/data/finance.csv")
    assert response.ok and response.text().startswith("model,")
    assert errors == []
    page.close()


def _tied(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#board tbody tr.model-row.tied", "rows => rows.map(r => r.dataset.model)")


def _plots_loaded(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        "#plots figure img", "imgs => Object.fromEntries(imgs.map(i => [i.closest('figure').dataset.plot, i.naturalWidth]))")


def test_ranks_ties_contamination_and_plots_in_browser(browser, board_site: Path) -> None:  # type: ignore[no-untyped-def]
    """The medical board with an mteb-written folder: Borda ranks, rank intervals, the tied-with-
    the-leader marker that stays on its models however the table is sorted, the zero-shot filter,
    the ceiling reference row, Δ vs base and the three plots; inferred task types on the other board."""
    from board_factory import MINILM_L3

    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((board_site / "medical.html").as_uri())
    page.wait_for_selector("#board tbody tr.model-row")
    order = ["minilm-l6-medical", "bge-small", "minilm-l6", "e5-small", MINILM_L3, "bm25-ce-rerank"]
    assert _models(page) == order
    assert [_cell(page, m, "borda") for m in order] == ["1", "2", "3", "4", "4", "ref"]
    assert [_cell(page, m, "interval") for m in order] == ["1–2", "1–3", "2–3", "4", "", ""]
    assert _tied(page) == ["minilm-l6-medical", "bge-small"]
    assert "≈ leader" in _cell(page, "bge-small", "model") and "leader" in _cell(page, "minilm-l6-medical", "model")
    assert "ceiling" in _cell(page, "bm25-ce-rerank", "model")
    assert "best" not in page.get_attribute('#board tr[data-model="bm25-ce-rerank"] td[data-col="avg:Retrieval"]', "class")
    delta = _cell(page, "minilm-l6-medical", "delta")
    assert delta.startswith("+4.69 [+") and "gain" in page.get_attribute(
        '#board tr[data-model="minilm-l6-medical"] td[data-col="delta"]', "class")
    assert _cell(page, "minilm-l6-medical", "method") == "finetune" and _cell(page, "minilm-l6-medical", "synth") == "1,007"
    assert _cell(page, MINILM_L3, "maxtok") == "128" and _cell(page, "bge-small", "maxtok") == "512"

    # sorting by Mean(Task) or by name moves rows, never the markers
    page.click('#board th[data-col="avg:all"]')
    assert _models(page)[:2] == ["bm25-ce-rerank", "minilm-l6-medical"]  # the ceiling scores highest but is not ranked
    assert sorted(_tied(page)) == ["bge-small", "minilm-l6-medical"]
    page.click('#board th[data-col="model"]')
    assert _models(page)[0] == "bge-small" and sorted(_tied(page)) == ["bge-small", "minilm-l6-medical"]

    # contamination: the adapted model was trained on medical data; the filter hides it
    assert "not zero-shot" in _cell(page, "minilm-l6-medical", "model")
    page.check("#zero-shot")
    assert "minilm-l6-medical" not in _models(page) and "bge-small" in _models(page)
    page.uncheck("#zero-shot")
    assert "minilm-l6-medical" in _models(page)

    # the three plots are there and load (file://, relative paths)
    page.wait_for_function("() => Array.from(document.querySelectorAll('#plots img')).every(i => i.complete)")
    loaded = _plots_loaded(page)
    assert set(loaded) == {"score_vs_params", "type_profile", "gain_over_base"} and all(w > 200 for w in loaded.values())
    page.click('#board th[data-col="borda"]')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=False)
    page.locator("#plots").screenshot(path=str(ARTIFACTS / "leaderboard_plots.png"))

    # mteb-written results: task types inferred from the score keys, marked with †
    page.goto((board_site / "other.html").as_uri())
    page.wait_for_selector("#board tbody tr.model-row")
    assert page.locator('#tabs button[data-tab="STS"]').count() == 1
    page.click('#tabs button[data-tab="Retrieval"]')
    header = page.locator('#board th[data-col="task:MockRetrievalTask"]')
    assert header.inner_text().strip().startswith("MockRetrievalTask †")
    assert "inferred from the score keys" in header.get_attribute("title")
    assert errors == []
    page.close()


def test_leaderboard_from_file_url(browser, site: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((site / "medical.html").as_uri())
    page.wait_for_selector("#board tbody tr.model-row")
    assert _models(page) == ["minilm-l6", "bm25"]
    assert _cell(page, "minilm-l6", "avg:all") == "61.00"
    page.click('#tabs button[data-tab="Classification"]')
    assert _cell(page, "bm25", "task:MedTopics") == "55.00"
    assert errors == []
    page.close()
