"""Text out of documents: plain text, Markdown, HTML and PDF.

``extract(name, data)`` returns the text and what extraction saw on the way (the coverage that
feeds the trust score, and every warning), or raises ``ExtractionError`` whose message is meant
for the person ("not a readable PDF: …", "unsupported file type '.docx' …"). It is a pure
function of its input, so it is safe to run in a worker thread.

Parsers: ``pypdf`` for PDF, ``markdown-it-py`` (CommonMark) then ``beautifulsoup4`` with the
standard library's ``html.parser`` for Markdown and HTML.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

KINDS = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".rst": "text",
    ".csv": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
#: Elements whose text is never content.
_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
#: Elements that end a paragraph.
_BLOCKS = (
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "nav",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "dt",
    "dd",
    "tr",
    "pre",
    "blockquote",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "figcaption",
    "hr",
    "br",
)
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_PDF_LOCK = threading.Lock()


class ExtractionError(Exception):
    """The document cannot be learned from; the message says why, for the person."""


@dataclass(frozen=True, slots=True)
class Extracted:
    kind: str
    text: str
    #: Share of the document that yielded text, 0..1 (see ``docs/learning.md``).
    coverage: float
    warnings: tuple[str, ...] = ()
    title: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def kind_of(name: str, data: bytes) -> str:
    suffix = PurePath(name).suffix.lower()
    kind = KINDS.get(suffix)
    if kind is None and data[:5] == b"%PDF-":
        return "pdf"
    if kind is None:
        shown = f"'{suffix}'" if suffix else "without an extension"
        supported = ", ".join(sorted(KINDS))
        raise ExtractionError(f"unsupported file type {shown} (supported: {supported})")
    return kind


def extract(name: str, data: bytes) -> Extracted:
    kind = kind_of(name, data)
    if not data.strip():
        raise ExtractionError("the file is empty")
    if kind == "pdf":
        result = _pdf(data)
    else:
        text, coverage, problems = _decode(data)
        if kind == "markdown":
            result = _markdown(text, coverage, problems)
        elif kind == "html":
            result = _html(text, coverage, problems)
        else:
            result = Extracted("text", normalize(text), coverage, tuple(problems))
    if not result.text.strip():
        raise ExtractionError(f"no text could be extracted from this {kind.upper()} file")
    return result


def normalize(text: str) -> str:
    """Unify newlines, collapse runs of spaces, keep paragraph breaks (one blank line)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _decode(data: bytes) -> tuple[str, float, list[str]]:
    """UTF-8 text (a BOM is dropped); invalid bytes become U+FFFD and count as lost."""
    sample = data[:4096]
    if b"\x00" in sample:
        raise ExtractionError("the file looks binary, not text")
    problems: list[str] = []
    text = data.decode("utf-8-sig", errors="replace")
    replaced = text.count("\ufffd")
    if replaced:
        problems.append(f"{replaced} bytes were not valid UTF-8 and were replaced")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f\v")
    if controls:
        problems.append(f"{controls} control characters were dropped")
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch in "\n\r\t\f\v")
    total = max(1, len(text) + controls)
    coverage = max(0.0, (total - replaced - controls) / total)
    return text.replace("\ufffd", ""), coverage, problems


def _soup_text(html: str) -> tuple[str, str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    # Inside a paragraph, source line breaks are just spaces.
    text = "\n\n".join(
        " ".join(part.split()) for part in re.split(r"\n\s*\n", soup.get_text()) if part.strip()
    )
    return text, title or None


def _markdown(text: str, coverage: float, problems: list[str]) -> Extracted:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(text)
    body, _ = _soup_text(html)
    heading = re.search(r"^\s{0,3}#\s+(.+)$", text, re.MULTILINE)
    return Extracted(
        "markdown",
        normalize(body),
        coverage,
        tuple(problems),
        title=heading.group(1).strip() if heading else None,
    )


def _html(text: str, coverage: float, problems: list[str]) -> Extracted:
    body, title = _soup_text(text)
    body = normalize(body)
    if "<" not in text[:2048] and ">" not in text[:2048]:
        problems.append("no HTML markup found; read as plain text")
    # Markup-heavy pages are normal; only a page with almost no visible text (under 5% of its
    # source) is suspicious, and coverage falls linearly below that.
    density = len(body) / max(1, len(text))
    coverage *= min(1.0, density / 0.05)
    return Extracted(
        "html",
        body,
        coverage,
        tuple(problems),
        title=title,
        detail={"text_density": round(density, 3)},
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:5] == b"%PDF-":
        raise ExtractionError("not a readable PDF: the file does not start with a PDF header")
    problems: list[str] = []
    collector = _Collect()
    pdf_log = logging.getLogger("pypdf")
    # pypdf reports repairs through its logger and the warnings module; both are process-wide,
    # so one PDF is parsed at a time.
    with _PDF_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdf_log.addHandler(collector)
        try:
            try:
                reader = PdfReader(io.BytesIO(data), strict=False)
                if reader.is_encrypted and not reader.decrypt(""):
                    raise ExtractionError("the PDF is encrypted with a password")
                pages = list(reader.pages)
            except ExtractionError:
                raise
            except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ExtractionError(f"not a readable PDF: {_reason(exc)}") from None
            except Exception as exc:  # pypdf raises many kinds on damaged files
                raise ExtractionError(f"not a readable PDF: {_reason(exc)}") from None
            if not pages:
                raise ExtractionError("not a readable PDF: it has no pages")
            texts: list[str] = []
            empty = 0
            for number, page in enumerate(pages, 1):
                try:
                    page_text = page.extract_text() or ""
                except Exception as exc:
                    problems.append(f"page {number}: text could not be read ({_reason(exc)})")
                    page_text = ""
                if not page_text.strip():
                    empty += 1
                texts.append(page_text)
        finally:
            pdf_log.removeHandler(collector)
    seen = set(problems)
    for message in [*collector.messages, *(str(w.message) for w in caught)]:
        if message not in seen:
            seen.add(message)
            problems.append(message[:300])
    if empty:
        problems.append(f"{empty} of {len(pages)} pages had no extractable text")
    metadata_title = None
    try:
        metadata_title = reader.metadata.title if reader.metadata else None
    except Exception:
        metadata_title = None
    return Extracted(
        "pdf",
        normalize("\n\n".join(texts)),
        (len(pages) - empty) / len(pages),
        tuple(problems),
        title=str(metadata_title) if metadata_title else None,
        detail={"pages": len(pages), "pages_without_text": empty},
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:200]
