"""Fixtures of the browser tests: Chromium, a JupyterLab server on student notebooks, a fresh page.

The tests need Playwright (the ``test`` extra) and a Chromium installed by the system
(Debian/Ubuntu: ``apt-get install chromium``; Playwright's own browser download is not
used). Without Chromium they fail with a message naming the fix; set
``ATTENTION_SKIP_BROWSER=1`` to skip them on purpose (refused in CI, where ``CI`` is set).
"""

from __future__ import annotations

import os
import secrets
import shutil

import pytest
from browser_lab import (
    ARTIFACTS,
    SKIP_VARIABLE,
    blank_notebook,
    filled_notebook,
    find_chromium,
    start_lab,
    stop_lab,
    write_notebook,
)

#: The notebooks the tests open: (folder, assignment) -> how to make it.
NOTEBOOKS = {
    ("filled", "02_scaled_dot_product"): filled_notebook,
    ("blank", "02_scaled_dot_product"): blank_notebook,
    ("filled", "04_multi_head_attention"): filled_notebook,
}


@pytest.fixture(scope="session")
def chromium():
    """Path of the system's Chromium, or a failure that says how to get one (or to skip)."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        if os.environ.get("CI"):
            pytest.fail(f"{SKIP_VARIABLE}=1 is refused in CI: the browser tests run there", pytrace=False)
        pytest.skip(f"browser tests skipped on purpose ({SKIP_VARIABLE}=1)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install -e '.[test]' "
                    f"(or set {SKIP_VARIABLE}=1 to skip them)", pytrace=False)
    path = find_chromium()
    if path is None:
        pytest.fail("the browser tests need Chromium and found none: install it (Debian/Ubuntu: "
                    "apt-get install chromium), or point CHROMIUM=/path/to/chrome at one, "
                    f"or set {SKIP_VARIABLE}=1 to skip these tests", pytrace=False)
    return path


@pytest.fixture(scope="session")
def lab(chromium, tmp_path_factory):
    """A JupyterLab on a temporary folder holding the notebooks of :data:`NOTEBOOKS`; always stopped."""
    root = tmp_path_factory.mktemp("lab-root")
    for (folder, assignment), make in NOTEBOOKS.items():
        write_notebook(make(assignment), root, folder, assignment)
    server = start_lab(root, tmp_path_factory.mktemp("lab-home"), secrets.token_hex(16))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts():
    """The folder of the screenshots (test-artifacts/browser, git-ignored), emptied per session."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture
def page(browser, lab, artifacts, request):
    """A fresh page; on failure its screenshot and the server's log tail go to the artifacts."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        page.screenshot(path=artifacts / f"{request.node.name}-failure.png")
        (artifacts / f"{request.node.name}-server.log").write_text(lab.log_tail(200))
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
