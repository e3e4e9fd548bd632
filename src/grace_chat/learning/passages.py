"""Splitting extracted text into passages, the unit the knowledge store indexes and returns.

Paragraphs (separated by a blank line) are packed together up to ``target`` characters; a
paragraph longer than ``limit`` is cut at sentence ends, and a sentence longer than ``limit`` at
word boundaries. No text is lost and no passage is empty.
"""

from __future__ import annotations

import re

TARGET = 800
LIMIT = 1500
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_passages(text: str, target: int = TARGET, limit: int = LIMIT) -> list[str]:
    pieces: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            pieces.extend(_cut_words(sentence, limit))
    passages: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > target:
            passages.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        passages.append(current)
    return passages


def _cut_words(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text] if text.strip() else []
    out: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > limit:  # one unbroken "word" longer than a passage
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > limit:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        out.append(current)
    return out
