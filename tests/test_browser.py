"""The sidebar in a real JupyterLab driven by headless Chromium (Playwright, /usr/bin/chromium).

Screenshots land in ``test-artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from support.lab import jupyter_lab
from support.seed import seed_all

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SIDEBAR_TAB = '.jp-SideBar li[data-id="mlops-sidebar"]'


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = "Debian chromium missing: apt-get install -y chromium"
        if os.environ.get("MLOPS_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (MLOPS_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def lab(project, tmp_path):
    seeded = seed_all(project)
    with jupyter_lab(project.root, tmp_path / "jupyter") as lab:
        lab.seeded = seeded
        yield lab


@pytest.fixture
def page(browser, lab):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{lab.url}/lab?token={lab.token}")
    page.locator(SIDEBAR_TAB).wait_for(state="visible", timeout=60_000)
    page.errors = errors
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def palette(page, command: str) -> None:
    """Run a command from the command palette (opened from the View menu: a focused notebook
    editor may keep the keyboard shortcut)."""
    from playwright.sync_api import expect

    search = page.locator(".lm-CommandPalette-input")
    for _ in range(3):  # the menu item toggles the palette: open it until the search shows
        if search.is_visible():
            break
        page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
        page.locator(".lm-Menu-itemLabel", has_text="Activate Command Palette").click()
        page.wait_for_timeout(300)
    search.fill(command)
    # The palette re-renders its items while commands change state, so a click can land on a
    # detached node: run the active (first matching) item with Enter instead.
    expect(page.locator(".lm-CommandPalette-item.lm-mod-active")).to_contain_text(command)
    search.press("Enter")


def test_runs_list_details_live_refresh_and_notebook(page, lab, project):
    from playwright.sync_api import expect

    import mlops_nb as mlops
    from mlops_nb.tracking.runs import create_run, end_run, log_batch

    # The name carries markup: it must show as text and never run (stored XSS).
    name = "live-training <img src=x onerror=window.__xss=1>"
    live = create_run(project, name, experiment="churn", params={"epochs": 3})
    log_batch(project, live.run_id, metrics=[("loss", 1.0, 0)])
    page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
    page.locator(".lm-Menu-itemLabel", has_text="Activate Command Palette").click()
    page.locator(".lm-CommandPalette-input").fill("MLOps")
    items = page.locator(".lm-CommandPalette-item")
    expect(items.filter(has_text="MLOps: Open runs")).to_have_count(1)
    expect(items.filter(has_text="MLOps: Refresh")).to_have_count(1)
    shot(page, "00-command-palette")
    items.filter(has_text="MLOps: Open runs").click()
    sidebar = page.locator("#mlops-sidebar")
    expect(sidebar).to_be_visible()
    rows = sidebar.locator("tr.mlops-run-row")
    expect(rows).to_have_count(7)
    expect(sidebar.locator(".mlops-summary")).to_have_text("7 runs")
    expect(sidebar.locator(".mlops-banner")).to_be_hidden()
    expect(sidebar.locator(".mlops-live")).to_have_class(re.compile("mlops-mod-on"))
    live_row = sidebar.locator(f'tr[data-run-id="{live.run_id}"]')
    expect(live_row.locator(".mlops-status")).to_have_attribute("data-status", "running")
    shot(page, "01-runs-list")

    # Filter and experiment selector narrow the list (server side).
    sidebar.locator(".mlops-filter").fill("metrics.auc > 0.82")
    sidebar.locator(".mlops-filter").press("Enter")
    expect(rows).to_have_count(3)  # tuned, broken, train-v2
    sidebar.locator(".mlops-filter").fill("")
    sidebar.locator(".mlops-filter").press("Enter")
    sidebar.locator(".mlops-experiment").select_option("scratch")
    expect(rows).to_have_count(1)
    sidebar.locator(".mlops-experiment").select_option("")
    expect(rows).to_have_count(7)

    # Details of the live run refresh while it is going.
    live_row.click()
    detail = sidebar.locator(".mlops-RunDetail")
    expect(detail.locator("h3")).to_have_text(name)
    assert page.evaluate("window.__xss") is None
    assert detail.locator("h3 img").count() == 0
    loss = detail.locator('figure[data-metric="loss"]')
    expect(loss.locator(".mlops-metric-range")).to_contain_text("steps 0–0")
    log_batch(project, live.run_id, metrics=[("loss", 0.5, 1), ("loss", 0.25, 2)])
    expect(loss.locator(".mlops-metric-range")).to_contain_text("steps 0–2", timeout=10_000)
    end_run(project, live.run_id, "finished")
    expect(detail.locator(".mlops-status").first).to_have_text("finished", timeout=10_000)

    # A finished run: params, metric charts, artifacts, lineage.
    detail.locator(".mlops-back").click()
    sidebar.locator("tr.mlops-run-row", has_text="train-v2").click()
    expect(detail.locator("h3")).to_have_text("train-v2")
    expect(detail.locator(".mlops-lineage")).to_contain_text("train@2")
    expect(detail.locator(".mlops-lineage")).to_contain_text("churn@2")
    detail.locator(".mlops-back").click()
    sidebar.locator("tr.mlops-run-row", has_text="tuned").click()
    expect(detail.locator("h3")).to_have_text("tuned")
    expect(detail.locator("figure.mlops-metric")).to_have_count(2)
    expect(detail.locator('figure[data-metric="loss"] path.mlops-chart-line')).to_have_attribute(
        "d", re.compile(r"^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){19}$")
    )
    expect(detail.locator(".mlops-params")).to_contain_text("depth")
    expect(detail.locator("a.mlops-artifact-link")).to_have_count(2)
    detail.locator(".mlops-back").click()
    sidebar.locator("tr.mlops-run-row", has_text="baseline").click()
    expect(detail.locator("h3")).to_have_text("baseline")
    expect(detail.locator(".mlops-cells tbody tr")).to_have_count(4)
    expect(detail.locator(".mlops-cells")).to_contain_text("NameError")
    expect(detail.locator(".mlops-badge-bad")).to_have_text("not reproducible")
    expect(detail.locator(".mlops-repro-notes li").first).to_be_visible()
    detail.locator(".mlops-repro").scroll_into_view_if_needed()
    shot(page, "02b-cell-history")
    detail.locator(".mlops-back").click()

    # Delete a run (after confirming), restore it from the notice, delete it again.
    broken = lab.seeded.runs["broken"]
    sidebar.locator("tr.mlops-run-row", has_text="broken").click()
    expect(detail.locator("h3")).to_have_text("broken")
    dialog = page.locator(".jp-Dialog")
    detail.locator(".mlops-delete-run").click()
    expect(dialog).to_contain_text("Delete run broken?")
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()  # cancel: nothing happens
    expect(detail.locator(".mlops-deleted")).to_have_count(0)
    detail.locator(".mlops-delete-run").click()
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(detail.locator(".mlops-deleted")).to_contain_text("Deleted")
    expect(detail.locator(".mlops-delete-run")).to_have_count(0)
    assert mlops.get_run(broken).deleted_at is not None
    shot(page, "02c-deleted-run")
    detail.locator(".mlops-restore-run").click()
    expect(detail.locator(".mlops-deleted")).to_have_count(0)
    assert mlops.get_run(broken).deleted_at is None
    detail.locator(".mlops-delete-run").click()
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(detail.locator(".mlops-deleted")).to_be_visible()
    detail.locator(".mlops-back").click()
    expect(rows).to_have_count(6)
    expect(sidebar.locator(f'tr[data-run-id="{broken}"]')).to_have_count(0)
    sidebar.locator(".mlops-status-filter").select_option("deleted")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run-id", broken)
    sidebar.locator(".mlops-status-filter").select_option("")
    expect(rows).to_have_count(6)
    sidebar.locator("tr.mlops-run-row", has_text="tuned").click()
    expect(detail.locator("h3")).to_have_text("tuned")
    shot(page, "02-run-detail")

    # "Open executed notebook" opens the run's notebook artifact in Lab.
    detail.locator(".mlops-open-notebook").click()
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="tuned-")
    expect(tab).to_be_visible(timeout=20_000)
    expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_contain_text("trained")
    copy = next((lab.root / "mlops-notebooks").glob("tuned-*.ipynb"))
    assert copy.name.startswith(f"tuned-{lab.seeded.runs['tuned'][:8]}")
    shot(page, "03-executed-notebook")

    assert not page.errors


def test_promote_through_the_dialog_and_diff_datasets(page, lab):
    from playwright.sync_api import expect

    import mlops_nb as mlops

    page.locator(SIDEBAR_TAB).click()
    sidebar = page.locator("#mlops-sidebar")
    sidebar.locator('.mlops-tab[data-tab="models"]').click()
    sidebar.locator('tr.mlops-model-row[data-model="churn"]').click()
    versions = sidebar.locator("tr.mlops-version-row")
    expect(versions).to_have_count(2)
    v1 = sidebar.locator('tr.mlops-version-row[data-version="1"]')
    v2 = sidebar.locator('tr.mlops-version-row[data-version="2"]')
    expect(v1.locator('.mlops-alias[data-alias="staging"]')).to_be_visible()

    # A version below the gate: rejected, with the failing check shown; nothing moves.
    v1.locator(".mlops-promote").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".mlops-promote-alias").fill("production")
    dialog.locator(".mlops-promote-reason").fill("try the staging model")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    rejected = sidebar.locator(".mlops-gate-results.mlops-mod-rejected")
    expect(rejected).to_contain_text("Promotion rejected")
    expect(rejected.locator("tr.mlops-check-failed")).to_contain_text("metrics.auc >= 0.85")
    expect(sidebar.locator('.mlops-alias[data-alias="production"]')).to_have_count(0)
    shot(page, "04-promotion-rejected")

    # v2 passes the gate: the production alias lands on v2.
    v2.locator(".mlops-promote").click()
    dialog.locator(".mlops-promote-alias").fill("production")
    dialog.locator(".mlops-promote-reason").fill("auc 0.90 beats the bar")
    shot(page, "05-promote-dialog")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    accepted = sidebar.locator(".mlops-gate-results.mlops-mod-accepted")
    expect(accepted).to_contain_text("churn@2 is now production")
    expect(accepted.locator("tr.mlops-check-ok")).to_contain_text("metrics.auc >= 0.85")
    expect(v2.locator('.mlops-alias[data-alias="production"]')).to_be_visible()
    expect(sidebar.locator(".mlops-audit li").first).to_contain_text("promote")
    shot(page, "06-promoted")

    # A version registered elsewhere shows up on "MLOps: Refresh".
    model = lab.root / "model-v3.json"
    model.write_text('{"weights": [3]}')
    mlops.register_model(str(model), "churn", metrics={"auc": 0.91})
    palette(page, "MLOps: Refresh")
    expect(versions).to_have_count(3)

    # Data: versions, schema, profile and the diff of two versions.
    sidebar.locator('.mlops-tab[data-tab="data"]').click()
    sidebar.locator('tr.mlops-dataset-row[data-dataset="train"]').click()
    expect(sidebar.locator("tr.mlops-dataset-version")).to_have_count(2)
    expect(sidebar.locator(".mlops-schema")).to_contain_text("score")
    expect(sidebar.locator(".mlops-profile")).to_contain_text("age")
    sidebar.locator(".mlops-diff-key").fill("id")
    sidebar.locator(".mlops-diff-run").click()
    diff = sidebar.locator(".mlops-diff")
    expect(diff.locator(".mlops-diff-title")).to_have_text("train@1 → train@2 by id")
    expect(diff.locator(".mlops-diff-added")).to_contain_text("+1 rows added")
    expect(diff.locator(".mlops-diff-changed")).to_contain_text("~1 rows changed")
    expect(diff.locator(".mlops-diff-schema")).to_contain_text("score")
    diff.scroll_into_view_if_needed()
    shot(page, "07-dataset-diff")

    # The same panel in the dark theme (theme variables only).
    palette(page, "Use Theme: JupyterLab Dark")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=20_000)
    sidebar.locator('.mlops-tab[data-tab="models"]').click()
    expect(sidebar.locator(".mlops-ModelDetail")).to_be_visible()
    shot(page, "08-dark-theme")
    assert not page.errors
