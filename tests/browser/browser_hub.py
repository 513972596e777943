"""What the users of a JupyterHub class click: log in, the Assignment List, answer cells.

Helpers of ``test_hub_class.py`` (the formgrader's are in ``browser_formgrader.py``). Each
takes a Playwright page of one user (a browser context of its own, so that the hub's cookies
of different users never mix).
"""

from __future__ import annotations

import re

from browser_lab import PANEL, code_cell, wait_idle
from student_notebooks import answers

#: The Assignment List's three sections.
RELEASED = "#released_assignments_list"
FETCHED = "#fetched_assignments_list"
SUBMITTED = "#submitted_assignments_list"


def log_in(browser, hub, user, timeout=240_000):
    """A page of ``user`` logged in to the hub, on their JupyterLab once their server has started."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("input#username_input", user.name)
    page.fill("input#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{re.escape(user.name)}/lab.*"), timeout=timeout)
    page.locator(".jp-LabShell").wait_for(timeout=timeout)
    page.locator(".lm-MenuBar-item", has_text=re.compile("^Nbgrader$")).wait_for(timeout=timeout)
    page.locator(".jp-Launcher").wait_for(timeout=timeout)  # the layout is restored: nothing steals focus now
    return page


def user_url(hub, user, path=""):
    return f"{hub.url}/user/{user.name}/{path.lstrip('/')}"


def _open_nbgrader_menu(page, attempts=5):
    """Open the Nbgrader menu; return it. Retried: a panel that takes the focus closes an open menu."""
    for _ in range(attempts):
        page.locator(".lm-MenuBar-item", has_text=re.compile("^Nbgrader$")).click()
        menu = page.locator(".lm-MenuBar-menu")
        try:
            menu.wait_for(timeout=5_000)
            return menu
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: try again
            page.keyboard.press("Escape")
    raise AssertionError("the Nbgrader menu did not open")


def nbgrader_menu(page):
    """The entries of JupyterLab's Nbgrader menu (the menu is closed again)."""
    menu = _open_nbgrader_menu(page)
    entries = [text.strip() for text in menu.locator(".lm-Menu-itemLabel").all_inner_texts() if text.strip()]
    page.keyboard.press("Escape")
    menu.wait_for(state="detached")
    return entries


def open_assignment_list(page):
    """Open (or show again) the Assignment List from the Nbgrader menu and wait for its lists."""
    menu = _open_nbgrader_menu(page)
    menu.locator(".lm-Menu-item[data-command='nbgrader:open-assignment-list']").click()
    page.locator(f"{RELEASED}_loading").wait_for(state="hidden")


def refresh_assignment_list(page):
    page.locator("#refresh_assignments_list").click()
    page.locator(f"{RELEASED}_loading").wait_for(state="hidden")


def assignment_row(page, section, assignment):
    return page.locator(f"{section} > .list_item", has_text=assignment)


def fetch_assignment(page, assignment):
    """Fetch ``assignment`` from the Released list; wait until it is listed as downloaded."""
    assignment_row(page, RELEASED, assignment).get_by_role("button", name="fetch").click()
    assignment_row(page, FETCHED, assignment).wait_for()


def open_fetched_notebook(page, assignment, timeout=120_000):
    """Open the downloaded notebook from the Assignment List and wait for its kernel."""
    row = assignment_row(page, FETCHED, assignment)
    row.locator("a.assignment-notebooks-link").click()
    row.locator(".assignment-notebooks a", has_text=re.compile(f"^{assignment}$")).click()
    page.locator(f"{PANEL} .jp-CodeCell").first.wait_for(timeout=timeout)
    wait_idle(page, timeout)


def answer_sources(solutions, assignment, replace=None):
    """The answers to type, by grade id: (cell type, source), the solutions' without markers, some replaced.

    Parameters
    ----------
    solutions : pathlib.Path
        The folder of the source notebooks (the instructor's checkout's ``solutions/``).
    assignment : str
    replace : dict, optional
        grade id -> the source to type instead (a wrong answer), or None to leave it as released.
    """
    found = answers(assignment, solutions)
    for grade_id, text in (replace or {}).items():
        if text is None:
            found.pop(grade_id)
        else:
            found[grade_id] = (found[grade_id][0], text)
    return found


def type_code(page, cell, text):
    """Replace the source of a code cell by ``text``, as pasted (no auto-indent, no bracket closing)."""
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def type_markdown(page, cell, text):
    """Replace a rendered Markdown cell's source by ``text`` and render it again."""
    cell.locator(".jp-MarkdownOutput").dblclick()
    editor = cell.locator(".cm-content")
    editor.wait_for()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Control+Enter")
    cell.locator(".jp-MarkdownOutput").wait_for()


def fill_in(page, answers):
    """Type the answers into the open notebook: code cells by their ``def name(``, written ones in order."""
    written = [text for grade_id, (kind, text) in answers.items() if kind == "markdown"]
    for grade_id, (kind, text) in answers.items():
        if kind == "code":
            type_code(page, code_cell(page, f"def {grade_id}("), text)
    cells = page.locator(f"{PANEL} .jp-MarkdownCell")
    for text in written:
        # By position: a locator filtered on "YOUR ANSWER HERE" would lose the cell as it is typed into.
        index = cells.evaluate_all("cs => cs.findIndex(c => c.textContent.includes('YOUR ANSWER HERE'))")
        if index < 0:
            raise AssertionError("no written answer cell left to fill in")
        type_markdown(page, cells.nth(index), text)


def save(page, timeout=60_000):
    """Save the notebook on show and wait until its tab is no longer marked as changed."""
    page.keyboard.press("Control+s")
    dirty = ".lm-DockPanel-tabBar .lm-mod-current.jp-mod-dirty"
    page.wait_for_function(f"() => !document.querySelector('{dirty}')", timeout=timeout)


def submit(page, assignment):
    """Submit from the Assignment List; wait until it is listed as submitted."""
    open_assignment_list(page)
    assignment_row(page, FETCHED, assignment).get_by_role("button", name="Submit").click()
    assignment_row(page, SUBMITTED, assignment).wait_for()
    errors = page.locator(".nbgrader-ErrorDialog")
    if errors.count():
        raise AssertionError(f"submitting {assignment} failed: {errors.inner_text()}")


def fetch_feedback(page, assignment, timeout=120_000):
    """Fetch the feedback from the Assignment List and open it; return the feedback's visible text."""
    open_assignment_list(page)
    refresh_assignment_list(page)
    row = assignment_row(page, SUBMITTED, assignment)
    row.get_by_role("button", name="Fetch Feedback").click()
    link = assignment_row(page, SUBMITTED, assignment).locator("a", has_text="view feedback")
    link.wait_for(timeout=timeout)
    link.click()  # the file browser goes to the feedback folder
    html = page.locator(".jp-DirListing-item .jp-DirListing-itemText", has_text=f"{assignment}.html")
    html.wait_for(timeout=timeout)
    html.dblclick()
    frame = page.frame_locator(".jp-HTMLViewer:not(.lm-mod-hidden) iframe")
    body = frame.locator("body")
    body.wait_for(timeout=timeout)
    frame.locator("#notebook, .jp-Notebook, body").first.wait_for(timeout=timeout)
    return body.inner_text(timeout=timeout)
