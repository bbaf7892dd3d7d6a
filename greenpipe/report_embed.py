"""A step's own HTML report, made safe to show inline in the greenpipe report (no iframe, no script).

A step writes whatever HTML it likes; the report keeps only an allow-list of structural tags (headings, text,
lists, tables, images with inline data), drops scripts, styles, frames, forms, event handlers and links, and
escapes all text again. Headings step down three levels so a step's <h1> sits under the report's own headings,
and each image becomes a <figure> captioned with its alt text.
"""

from __future__ import annotations

import base64
import html
import re
from html.parser import HTMLParser
from pathlib import Path

from greenpipe.report_format import digest, number

_KEEP = {
    "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "b", "strong", "i", "em", "code", "pre",
    "br", "hr", "div", "span", "blockquote", "dl", "dt", "dd", "caption", "sub", "sup", "small",
}  # fmt: skip
_HEADINGS = {"h1": "h4", "h2": "h5", "h3": "h6", "h4": "h6", "h5": "h6", "h6": "h6"}
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript", "title", "svg", "math"}
_VOID = {"br", "hr", "img"}
_ATTRS = {"colspan", "rowspan", "title"}
_CLASSES = {"drift", "warning"}
_IMAGE_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,")
_DIGEST = re.compile(r"\b(?:tree-)?(?:blake3|sha256):[0-9a-f]{64}\b")
_NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def sanitise(markup: str) -> str:
    """The body of `markup` reduced to the allow-list, every text re-escaped."""
    parser = _Sanitiser()
    parser.feed(markup)
    parser.close()
    return parser.result()


def embed_report(path: Path) -> str:
    """A Report artifact (an HTML or Markdown file, an image, or a folder of them) as inline HTML."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    pages = [f for f in files if f.suffix in (".html", ".htm") or (f == path and _looks_html(f))]
    if pages:
        return (
            "<div class='step-content'>" + sanitise(pages[0].read_text(encoding="utf-8", errors="replace")) + "</div>"
        )
    texts = [f for f in files if f.suffix in (".md", ".txt")]
    if texts:
        return f"<pre class='step-text'>{html.escape(texts[0].read_text(encoding='utf-8', errors='replace'))}</pre>"
    images = [f for f in files if f.suffix == ".png"]
    if images:
        return "".join(
            f"<figure class='step-image'><img alt='{html.escape(f.name, quote=True)}' "
            f"src='data:image/png;base64,{base64.b64encode(f.read_bytes()).decode()}'>"
            f"<figcaption>{html.escape(f.name)}</figcaption></figure>"
            for f in images
        )
    return "<p class='note'>(this report holds nothing a browser shows inline)</p>"


def _looks_html(file: Path) -> bool:
    with open(file, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0  # depth inside a dropped element whose content goes too

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping or tag in _DROP_WITH_CONTENT:
            if tag not in _VOID:
                self.dropping += 1
            return
        if tag == "img":
            self._image(dict(attrs))
            return
        name = _HEADINGS.get(tag, tag)
        if name not in _KEEP and name not in _HEADINGS.values():
            return
        kept = []
        for key, value in attrs:
            if key in _ATTRS and value is not None:
                kept.append(f" {key}='{html.escape(value, quote=True)}'")
            elif key == "class" and value:
                classes = [f"step-{c}" for c in value.split() if c in _CLASSES]
                if classes:
                    kept.append(f" class='{' '.join(classes)}'")
        self.out.append(f"<{name}{''.join(kept)}>")
        if name not in _VOID:
            self.open.append(name)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping or tag in _DROP_WITH_CONTENT:
            return  # `<path/>` inside a dropped <svg>: nothing opened, nothing to count
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and _HEADINGS.get(tag, tag) in self.open:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag not in _VOID:
                self.dropping -= 1
            return
        name = _HEADINGS.get(tag, tag)
        if name in self.open:  # close what is open up to it; an end tag never opened is dropped
            while self.open:
                top = self.open.pop()
                self.out.append(f"</{top}>")
                if top == name:
                    break

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        in_cell = bool(self.open) and self.open[-1] in ("td", "th")
        if in_cell and _NUMBER.fullmatch(data.strip()) and ("." in data or "e" in data.lower()):
            self.out.append(number(float(data)))  # the report's one number format, in tables a step wrote too
            return
        at = 0
        for match in _DIGEST.finditer(data):  # long digests shortened, the full value on hover
            self.out.append(html.escape(data[at : match.start()], quote=False) + digest(match.group()))
            at = match.end()
        self.out.append(html.escape(data[at:], quote=False))

    def _image(self, attrs: dict[str, str | None]) -> None:
        src = attrs.get("src") or ""
        if not src.startswith(_IMAGE_PREFIXES):
            return  # only inline images: the report is one file that fetches nothing
        alt = html.escape(attrs.get("alt") or "image from the step's report", quote=True)
        self.out.append(
            f"<figure class='step-image'><img alt='{alt}' src='{html.escape(src, quote=True)}'>"
            f"<figcaption>{alt}</figcaption></figure>"
        )

    def result(self) -> str:
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))
