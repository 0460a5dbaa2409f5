"""Finance in the Dagster UI, in a real headless browser: after a small demo, the asset graph shows the
settlement assets, and the statement asset's page shows its metadata and its Markdown statement with the
exact amounts the catalog holds.

Chromium comes from Debian's package (`make test-ui` installs it); Playwright (PyPI) drives it. The
webserver serves the repository's own workspace.yaml on loopback, on the demo's warehouse and instance.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHARGELEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A one-day demo fleet settled into a fresh warehouse and Dagster instance."""
    base = tmp_path_factory.mktemp("ui_demo")
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    env = os.environ | {"DAGSTER_HOME": str(home), "CHARGELEDGER_LANDING": str(base / "landing"),
                        "CHARGELEDGER_WAREHOUSE": str(base / "warehouse"),
                        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))}
    _run(["-m", "data.generate", "--out", str(base / "landing"), "--seed", "7", "--days", "1",
          "--sessions-per-day", "40"], env)
    output = _run(["-m", "pipelines.demo"], env)
    return {"env": env, "catalog": base / "warehouse" / "chargeledger.duckdb", "output": output}


@pytest.fixture(scope="module")
def webserver(demo):
    """dagster-webserver on a free loopback port, on the demo's instance and warehouse."""
    port = _free_port()
    log = open(Path(demo["env"]["DAGSTER_HOME"]) / "webserver.log", "w")
    process = subprocess.Popen([str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml",
                                "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT, env=demo["env"], stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the webserver did not start"
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test-ui` installs Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


def test_demo_prints_the_monthly_statement_first(demo):
    con = duckdb.connect(str(demo["catalog"]), read_only=True)
    operators = [r[0] for r in con.execute(
        "select distinct operator_id from settlement_statements where period = 'month' order by 1").fetchall()]
    con.close()
    # the month, recomputed from its days' rows, equals the sum of the daily statements; VAT lines add up
    con = duckdb.connect(str(demo["catalog"]), read_only=True)
    by_period = con.execute(
        "select operator_id, currency, sum(sessions) filter (where period = 'day'), "
        "sum(sessions) filter (where period = 'month'), sum(revenue_incl_vat) filter (where period = 'day'), "
        "sum(revenue_incl_vat) filter (where period = 'month'), sum(electricity_bought) filter (where period = 'day'), "
        "sum(electricity_bought) filter (where period = 'month') from settlement_statements group by all").fetchall()
    vat = con.execute(
        "select s.operator_id, s.revenue_incl_vat, (select sum(amount_incl_vat) from settlement_statement_vat v "
        "where v.period = s.period and v.period_start = s.period_start and v.operator_id = s.operator_id "
        "and v.currency = s.currency) from settlement_statements s where s.sessions_priced > 0").fetchall()
    con.close()
    assert by_period and all(row[2] == row[3] and row[4] == row[5] and row[6] == row[7] for row in by_period), by_period
    assert vat and all(total == lines for _, total, lines in vat), vat
    summary = demo["output"].split("Monthly settlement statement per operator", 1)
    assert len(summary) == 2, demo["output"][-2000:]
    assert operators and all(f" {operator} " in summary[1] for operator in operators)


def test_asset_graph_shows_the_settlement_assets(webserver, browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(f"{webserver}/asset-groups", wait_until="networkidle", timeout=120_000)
    for group in ("settlement", "settlement_monthly", "pricing", "sessions"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    page.close()


def test_statement_page_shows_its_metadata_and_exact_amounts(demo, webserver, browser):
    con = duckdb.connect(str(demo["catalog"]), read_only=True)
    rows = con.execute("select operator_id, revenue_incl_vat, electricity_bought from settlement_statements "
                       "where period = 'day'").fetchall()
    con.close()

    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(f"{webserver}/assets/settlement_statements", wait_until="networkidle", timeout=120_000)
    # the latest materialization's metadata: one float per currency of that day, e.g. revenue_GBP_incl_vat
    page.get_by_text(re.compile(r"^revenue_[A-Z]{3}_incl_vat$")).first.wait_for(timeout=60_000)
    for key in (r"revenue_[A-Z]{3}_excl_vat", r"electricity_bought_[A-Z]{3}", r"gross_margin_[A-Z]{3}", "sessions",
                "sessions_not_priced", "quarantined_records", "statement"):
        assert page.get_by_text(re.compile(f"^{key}$")).count() >= 1, key
    assert not page.get_by_text("_float").count()
    # the Markdown statement of the latest materialization (inline when short, else behind [Show Markdown]):
    # that day's exact catalog amounts, per operator
    if page.get_by_text("[Show Markdown]").count():
        page.get_by_text("[Show Markdown]").first.click()
        region = page.get_by_role("dialog").filter(has_text="Revenue by VAT rate")
    else:
        region = page.locator("body")
    region.get_by_text("Not priced and quarantined").first.wait_for(timeout=30_000)
    text = region.inner_text()
    shown = [row for row in rows if row[0] in text and str(row[1]) in text and str(row[2]) in text]
    assert shown, text[:2000]
    page.close()
