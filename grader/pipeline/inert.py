"""Learner content made inert in the HTML an instructor or a student opens.

Feedback pages show the learner's markdown and outputs; a learner can write HTML there.
:class:`MakeInert` (a preprocessor in front of nbgrader's feedback) renders every markdown
cell and cleans it with nh3 (the Rust ``ammonia`` sanitizer: an allow-list of tags,
attributes and URL schemes — no script, no event handler, no ``javascript:`` URL, no frame),
and keeps only outputs that cannot run anything, cleaned the same way. Every page is then
checked (:func:`problems`) before it is handed out: a page that still holds anything active
beyond the page template's own scripts is withheld.
"""

from __future__ import annotations

from html.parser import HTMLParser

import nh3
from nbconvert.filters import markdown2html_mistune
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

#: Tags kept in learner content: nh3's defaults plus what rendered notebooks use.
TAGS = nh3.ALLOWED_TAGS | {"div", "span", "pre", "code", "table", "thead", "tbody", "tr", "th", "td",
                           "img", "figure", "figcaption", "details", "summary"}
#: Attributes kept: nh3's defaults plus layout classes and ids.
ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "*": {"class", "id", "title"}}
#: URL schemes a link or an image may use (data: for embedded images).
URL_SCHEMES = {"http", "https", "mailto", "data"}
#: Elements that are never allowed in a page, whatever their origin.
FORBIDDEN = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "form"}
#: Output types kept as they are: pictures and text, which a page shows but never runs.
SAFE_OUTPUTS = ("image/png", "image/jpeg", "image/gif", "text/plain", "text/latex")


def clean_html(element) -> str:
    """Sanitize an HTML fragment (nbconvert's ``clean_html`` filter, replaced)."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     clean_content_tags={"script", "style"}, link_rel="noopener noreferrer")


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts, self.problems, self._script = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN:
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if value and name.lower() in ("href", "src", "action", "formaction", "xlink:href") \
                    and value.strip().lower().replace("\x00", "").startswith(("javascript:", "vbscript:")):
                self.problems.append(f"{value.split(':')[0]}: URL in <{tag} {name}>")
        if tag == "script":
            self._script = [dict(attrs).get("src") or "", dict(attrs).get("type") or "", ""]

    def handle_data(self, data):
        if self._script is not None:
            self._script[2] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(tuple(part.strip() for part in self._script))
            self._script = None


def scripts(html_text: str) -> set[tuple[str, str, str]]:
    """The (src, type, content) of every script element of a page."""
    audit = _Audit()
    audit.feed(html_text)
    return set(audit.scripts)


def problems(html_text: str, allowed_scripts: set) -> list[str]:
    """What is active in a page beyond ``allowed_scripts`` (the template's own): empty when inert."""
    audit = _Audit()
    audit.feed(html_text)
    found = list(audit.problems)
    found += [f"script {src or kind or content[:60]!r}" for src, kind, content in audit.scripts
              if (src, kind, content) not in allowed_scripts]
    return found


def inert_markdown(source: str) -> str:
    """Markdown that renders to the cleaned HTML of ``source`` (one raw HTML block, passed through)."""
    html = clean_html(markdown2html_mistune(source))
    return "<div>" + html.replace("\n", "&#10;") + "</div>"  # no line break: one HTML block


def inert_output(output: dict) -> dict | None:
    """The output with only inert representations, cleaned; None when nothing inert is left."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return output  # streams and errors are text, escaped by any template
    data = output.get("data", {})
    kept = {kind: value for kind, value in data.items() if kind in SAFE_OUTPUTS}
    if "text/html" in data:
        kept["text/html"] = clean_html("".join(data["text/html"]) if isinstance(data["text/html"], list)
                                       else data["text/html"])
    elif "text/markdown" in data:
        kept["text/html"] = clean_html(markdown2html_mistune(str(data["text/markdown"])))
    if not kept:
        return None
    return {**output, "data": kept, "metadata": {}}


class MakeInert(Preprocessor):
    """Render the learner's markdown and outputs inert before a page is made of them."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.pop("attachments", None)
            if cell.cell_type == "markdown":
                cell.source = inert_markdown(cell.source)
            elif cell.cell_type == "code":
                cell.outputs = [kept for kept in map(inert_output, cell.outputs) if kept is not None]
            elif cell.cell_type == "raw":
                cell.metadata.pop("raw_mimetype", None)  # shown as text, never as HTML
        return nb, resources
