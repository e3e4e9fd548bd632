"""The trust score of an ingested document: how much of it Grace could actually read.

Deterministic, from what ingestion saw (``docs/learning.md`` has the same formula)::

    trust = base[kind] * (0.5 + 0.5 * coverage) - 0.03 * min(warnings, 10) - short

* ``base``: how reliably text comes out of the source type — Markdown 0.95, PDF 0.92,
  plain text 0.90, HTML 0.85.
* ``coverage`` (0..1): the extracted-text ratio — for PDF the share of pages that yielded text;
  for text and Markdown the share of characters that decoded cleanly (not invalid UTF-8, not
  control characters); for HTML that, times ``min(1, visible text / source / 0.05)``.
* ``warnings``: parse warnings (repairs pypdf made, unreadable pages, replaced bytes …).
* ``short``: 0.10 when fewer than 200 characters of text came out, else 0.

The result is clamped to 0.05..0.99 and rounded to two decimals. A clean PDF scores 0.92.
"""

from __future__ import annotations

from typing import Any

from grace_chat.learning.extract import Extracted

BASE = {"markdown": 0.95, "pdf": 0.92, "text": 0.90, "html": 0.85}
WARNING_PENALTY = 0.03
MAX_WARNINGS = 10
SHORT_CHARS = 200
SHORT_PENALTY = 0.10
FLOOR, CEILING = 0.05, 0.99


def trust_score(extracted: Extracted) -> tuple[float, dict[str, Any]]:
    """The score and the terms it was computed from (stored with the document)."""
    base = BASE.get(extracted.kind, 0.80)
    coverage = min(1.0, max(0.0, extracted.coverage))
    warnings = min(len(extracted.warnings), MAX_WARNINGS)
    short = SHORT_PENALTY if len(extracted.text) < SHORT_CHARS else 0.0
    raw = base * (0.5 + 0.5 * coverage) - WARNING_PENALTY * warnings - short
    score = round(min(CEILING, max(FLOOR, raw)), 2)
    return score, {
        "base": base,
        "coverage": round(coverage, 4),
        "warnings": len(extracted.warnings),
        "short_penalty": short,
        "score": score,
    }
