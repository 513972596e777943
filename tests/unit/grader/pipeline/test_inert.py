"""Is learner content inert in the HTML an instructor or a student opens?"""

from __future__ import annotations

import pytest

from grader.pipeline.export import spreadsheet_safe
from grader.pipeline.inert import clean_html, problems

ATTACKS = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<iframe src="https://example.org"></iframe>',
    '<svg onload="alert(1)"></svg>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<object data="x.swf"></object>',
    "<form action=javascript:alert(1)><button>go</button></form>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_is_cleaned_to_nothing_active(attack):
    """Does the sanitizer leave no script, handler, javascript: URL or frame in a fragment?"""
    cleaned = clean_html(attack)
    assert problems(cleaned, set()) == []
    assert "alert" not in cleaned or "<script" not in cleaned


@pytest.mark.parametrize("attack", ATTACKS[:5] + ATTACKS[7:9])
def test_the_page_audit_finds_each_attack_left_in_a_page(attack):
    """Would a page that still held the attack be withheld?"""
    assert problems(f"<html><body>{attack}</body></html>", set())


def test_notebook_html_survives_cleaning():
    """Are tables, images, code and classes kept (the learner's plots and tables still show)?"""
    html = ('<table class="dataframe"><tr><th>a</th><td>1</td></tr></table>'
            '<img src="data:image/png;base64,iVBORw0KGgo="><pre><code class="x">x = 1</code></pre>')
    cleaned = clean_html(html)
    for kept in ("<table", "<td>1</td>", 'src="data:image/png;base64,iVBORw0KGgo="', "<pre>", 'class="x"'):
        assert kept in cleaned


@pytest.mark.parametrize(("value", "safe"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@sum(A1)", "'@sum(A1)"),
    ("\tx", "'\tx"), ("-0.5", "-0.5"), ("3", "3"), ("alice", "alice"), (None, ""), (2.0, "2.0"),
])
def test_a_formula_in_a_csv_cell_is_neutralised(value, safe):
    """Does a cell a spreadsheet would read as a formula get a leading quote, numbers left alone?"""
    assert spreadsheet_safe(value) == safe


def test_make_inert_cleans_markdown_and_keeps_only_inert_outputs():
    """Does the feedback preprocessor clean markdown (math and images kept), keep pictures and text,
    clean HTML outputs and drop JavaScript and widgets?"""
    import nbformat

    from grader.pipeline.inert import MakeInert

    markdown = nbformat.v4.new_markdown_cell('Weights $w_i$ <img src="x" onerror="alert(1)"> **bold**')
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>ok</b><script>alert(2)</script>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(3)"}),
        nbformat.v4.new_output("stream", name="stdout", text="<script>printed</script>"),
    ]
    nb = nbformat.v4.new_notebook(cells=[markdown, code])
    nb.metadata["widgets"] = {"state": {}}
    nb, _ = MakeInert()(nb, {})
    assert "onerror" not in nb.cells[0].source and "$w_i$" in nb.cells[0].source
    assert "<strong>bold</strong>" in nb.cells[0].source and "\n" not in nb.cells[0].source
    kinds = [sorted(o.get("data", {"stream": 1})) for o in nb.cells[1].outputs]
    assert kinds == [["image/png", "text/plain"], ["text/html"], ["stream"]]
    assert nb.cells[1].outputs[1]["data"]["text/html"] == "<b>ok</b>"
    assert "widgets" not in nb.metadata
