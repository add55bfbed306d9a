"""The asv dashboard built from the tracked results (asv_results/): published with local scripts
only, and drawn by a real headless browser that can reach nothing but this machine."""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# a fastseq benchmark recorded in the history, with its peers as parameters
GRAPH = "bench_kmeans.LloydIterations.time_ten_iterations"

pytest.importorskip("asv", reason="the dashboard needs asv: pip install -e '.[bench]'")


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dashboard") / "html"
    done = subprocess.run([sys.executable, "-m", "asv_bench.publish", "--html-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_published_page_loads_nothing_from_the_network(html_dir):
    page = (html_dir / "index.html").read_text()
    external = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="(https?://[^"]+)"', page)
    assert external == []
    local = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="(vendor/[^"]+)"', page)
    assert len(local) == 10
    for path in local:
        assert (html_dir / path).stat().st_size > 1000, path
    assert (html_dir / "vendor/bootstrap/fonts/glyphicons-halflings-regular.woff").exists()


def test_history_has_ten_commits_for_the_graph(html_dir):
    import json
    machines = json.loads((html_dir / "index.json").read_text())["params"]["machine"]
    assert any(m.endswith(f"-{os.cpu_count()}c") or re.search(r"-\d+c$", m) for m in machines)
    graphs = [p for p in (html_dir / "graphs").rglob(f"{GRAPH}.json")]
    assert graphs, f"no graph of {GRAPH} was published"
    points = json.loads(graphs[0].read_text())
    assert len(points) >= 10, f"{GRAPH} has {len(points)} commits, expected at least 10"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(directory):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium drives the browser: pip install -e '.[bench]'")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000",
                 # every host name but the local server fails: a CDN script could not load
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_browser_draws_fastseq_beside_its_peers(html_dir, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    server = _serve(html_dir)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        browser.get(base)
        WebDriverWait(browser, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#summarygrid-display .benchmark-container"))
        browser.get(f"{base}#{GRAPH}")
        WebDriverWait(browser, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#main-graph canvas.flot-base"))
        legend = WebDriverWait(browser, 60).until(
            lambda d: d.execute_script(
                "return $('#main-graph').data('plot') && "
                "$('#main-graph').data('plot').getData().map(s => [s.label || '', s.data.length])"))
        # asv asks for a summary of every benchmark of the suite; one never recorded is a 404
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                  and not ("/graphs/summary/" in e["message"] and "404" in e["message"])]
    finally:
        server.shutdown()
    assert errors == [], errors
    labels = " ".join(label for label, n in legend if n > 0)
    assert "fastseq" in labels and ("sklearn" in labels or "faiss" in labels), legend
