"""What an instructor clicks in nbgrader's formgrader: Release, Release Feedback, Manual Grading.

Each helper takes a Playwright page and ``base``, the address of the Jupyter server's root
(``http://127.0.0.1:PORT`` for ``python -m grader formgrader``, ``.../user/NAME`` on a hub),
on which the page is already authenticated (a token cookie, or the hub's login).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def _url(base, path):
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def _assignment_row(page, assignment):
    return page.locator("tr", has=page.locator("td", has_text=re.compile(f"^{re.escape(assignment)}$")))


def _modal_text(page, what):
    modal = page.locator("#success-modal, #error-modal").first
    modal.wait_for()
    text = modal.inner_text()
    if "Success" not in text:
        raise AssertionError(f"the formgrader could not {what}: {text}")
    return text


def formgrader_release(page, base, assignment):
    """Release ``assignment`` to the exchange with the formgrader's Release button."""
    page.goto(_url(base, "formgrader/manage_assignments"))
    _assignment_row(page, assignment).locator(".release a").click()
    return _modal_text(page, f"release {assignment}")


def formgrader_release_feedback(page, base, assignment):
    """Release the feedback of ``assignment`` with the formgrader's envelope button."""
    page.goto(_url(base, "formgrader/manage_assignments"))
    _assignment_row(page, assignment).locator(".release-feedback a").click()
    return _modal_text(page, f"release the feedback of {assignment}")


def formgrader_grade(page, base, assignment, student, scores, comments=None):
    """Give written answers of one submission their scores in the formgrader's grading page.

    Parameters
    ----------
    scores : dict
        grade id -> points.
    comments : dict, optional
        grade id -> comment.
    """
    page.goto(_url(base, f"formgrader/gradebook/{assignment}/{assignment}"))
    link = page.locator("td a.name-shown", has_text=re.compile(f"^{re.escape(student)}$"))
    link.wait_for(state="attached")

    def loaded(kind):
        return lambda r: f"/formgrader/api/{kind}?submission_id=" in r.url and r.ok

    # Student names are hidden until revealed: follow the link's address (absolute path). The page
    # fills its fields in when the grades and comments arrive; what is typed before then is overwritten.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    with page.expect_response(loaded("grades")), page.expect_response(loaded("comments")):
        page.goto(origin + link.get_attribute("href"))
    page.wait_for_load_state("networkidle")
    page.locator(".nbgrader_cell").first.wait_for()

    def saved(kind):
        return lambda r: f"/formgrader/api/{kind}/" in r.url and r.request.method == "PUT" and r.ok

    for grade_id, text in (comments or {}).items():
        with page.expect_response(saved("comment")):
            page.locator(f"textarea#{grade_id}-comment").fill(text)
            page.locator(f"textarea#{grade_id}-comment").press("Tab")  # leaving a field saves it
    for grade_id, points in scores.items():
        with page.expect_response(saved("grade")):
            page.locator(f"input.score#{grade_id}").fill(str(points))
            page.locator(f"input.score#{grade_id}").press("Tab")
    return page
