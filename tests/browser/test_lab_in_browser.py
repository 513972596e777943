"""Does the course work where students use it: JupyterLab in a browser, with nbgrader's Validate button?

Each test opens a student notebook in a real JupyterLab driven by a headless Chromium,
runs it as a student would, and looks at what the page shows. Screenshots go to
test-artifacts/browser/.
"""

from __future__ import annotations

import re

from browser_lab import (
    PANEL,
    close_dialog,
    code_cell,
    error_outputs,
    open_notebook,
    run_all_cells,
    run_cell,
    run_menu_command,
    saved_notebook,
    validate,
    wait_idle,
)

FILLED_02 = "filled/02_scaled_dot_product/02_scaled_dot_product.ipynb"
BLANK_02 = "blank/02_scaled_dot_product/02_scaled_dot_product.ipynb"
FILLED_04 = "filled/04_multi_head_attention/04_multi_head_attention.ipynb"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXPLORER = f"{PANEL} .attention-explorer"
MAP = f"{EXPLORER} img.explorer-map"

#: How many images are drawn and fully loaded in the notebook on show.
LOADED_IMAGES = f"""() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output img')]
    .filter(img => img.complete && img.naturalWidth > 0).length"""


def _plot_cell_ids(nb):
    return [c.id for c in nb.cells if c.cell_type == "code" and "when_implemented(" in c.source]


def _has_png(cell):
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def _map_changes(page, before, timeout=60_000):
    """Wait until the explorer's map shows a new image; return its new src."""
    page.wait_for_function(
        "([selector, before]) => { const img = document.querySelector(selector);"
        " return img && img.src !== before && img.complete && img.naturalWidth > 0; }",
        arg=[MAP, before], timeout=timeout)
    return page.locator(MAP).get_attribute("src")


def _explorer_cell(nb):
    cells = [c for c in nb.cells if c.cell_type == "code" and "explorer(" in c.source]
    assert len(cells) == 1, [c.id for c in cells]
    return cells[0]


def test_a_filled_in_notebook_02_runs_draws_its_maps_redraws_the_explorer_and_validates(page, lab, artifacts):
    """Filled in, does notebook 02 run cleanly in Lab, draw its maps, redraw on a slider move and validate?"""
    open_notebook(page, lab, FILLED_02)
    run_all_cells(page)

    page.locator(MAP).wait_for()
    images = page.evaluate(LOADED_IMAGES)
    assert images >= 5, f"only {images} images rendered (4 plots and the explorer's map expected)"
    page.locator(EXPLORER).scroll_into_view_if_needed()
    page.locator(EXPLORER).screenshot(path=artifacts / "02-explorer-d_k-16.png")

    before = page.locator(MAP).get_attribute("src")
    page.locator(f"{EXPLORER} .explorer-d-k .noUi-handle").focus()
    page.keyboard.press("ArrowRight")  # d_k 16 -> 32: the learner's function runs again
    after = _map_changes(page, before)
    assert after != before
    assert page.locator(f"{EXPLORER} .explorer-d-k .widget-readout").inner_text().strip() == "32"
    assert page.locator(f"{EXPLORER} .explorer-status").inner_text().strip() == ""
    page.locator(EXPLORER).screenshot(path=artifacts / "02-explorer-d_k-32.png")

    page.locator(f"{EXPLORER} .explorer-causal input").check()  # the causal mask redraws it as well
    _map_changes(page, after)

    dialog = validate(page)  # saves the notebook, then nbgrader runs it with the public tests
    dialog.screenshot(path=artifacts / "02-filled-validate.png")
    assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()
    close_dialog(page)

    nb = saved_notebook(lab, FILLED_02)
    assert error_outputs(nb) == []
    cells = {c.id: c for c in nb.cells}
    assert [i for i in _plot_cell_ids(nb) if not _has_png(cells[i])] == []
    explorer = _explorer_cell(nb)
    bundles = [out["data"] for out in explorer.outputs if "data" in out]
    assert any(WIDGET_VIEW in data and "image/png" in data for data in bundles), bundles


def test_a_blank_notebook_02_fails_its_tests_cleanly_and_validate_lists_them(page, lab, artifacts):
    """Blank, do the tests fail with 'not implemented yet', the explorer say so, and Validate list them?"""
    open_notebook(page, lab, BLANK_02)
    run_menu_command(page, "Run", "runmenu:run-all")  # Lab stops at the first failing cell, a test cell
    first_test = code_cell(page, 'check("dot_product_attention", dot_product_attention)')
    error = first_test.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    error.wait_for(timeout=120_000)
    wait_idle(page)
    assert "not implemented yet" in error.inner_text()

    for text in ("def scaled_dot_product_attention(", "attention_explorer(scaled_dot_product_attention)"):
        run_cell(page, code_cell(page, text))
    explorer = code_cell(page, "attention_explorer(scaled_dot_product_attention)")
    output = explorer.locator(".jp-OutputArea")
    output.scroll_into_view_if_needed()
    explorer.screenshot(path=artifacts / "02-blank-explorer.png")
    assert re.fullmatch(r"Plot skipped: implement `scaled_dot_product_attention` first, then run this "
                        r"cell again\.", output.inner_text().strip()), output.inner_text()
    assert output.locator("img").count() == 0

    dialog = validate(page)
    dialog.screenshot(path=artifacts / "02-blank-validate.png")
    text = dialog.inner_text()
    assert dialog.locator(".validation-failed").count() == 1, text
    # Every graded cell fails: the four test cells, not implemented yet, and the two written answers.
    assert text.count("The following cell failed:") == 6, text
    for name in ("dot_product_attention", "scaled_dot_product_attention", "causal_mask", "padding_mask"):
        assert f'check("{name}", {name})' in text
        assert f"{name} is not implemented yet" in text
    assert text.count("You did not provide a response.") == 2, text
    close_dialog(page)


def test_the_multi_head_explorer_of_notebook_04_shows_one_head_when_asked(page, lab, artifacts):
    """Filled in, does notebook 04 run cleanly in Lab, and its explorer redraw for the head selector?"""
    open_notebook(page, lab, FILLED_04)
    run_all_cells(page)

    page.locator(MAP).wait_for()
    page.locator(EXPLORER).scroll_into_view_if_needed()
    page.locator(EXPLORER).screenshot(path=artifacts / "04-explorer-all-heads.png")
    before = page.locator(MAP).get_attribute("src")
    page.locator(f"{EXPLORER} .explorer-head button", has_text=re.compile(r"^2$")).click()
    _map_changes(page, before)
    assert page.locator(f"{EXPLORER} .explorer-status").inner_text().strip() == ""
    page.locator(EXPLORER).screenshot(path=artifacts / "04-explorer-head-2.png")

    dialog = validate(page)
    assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
    close_dialog(page)
    nb = saved_notebook(lab, FILLED_04)
    assert error_outputs(nb) == []
    assert any(WIDGET_VIEW in out.get("data", {}) for out in _explorer_cell(nb).outputs)
