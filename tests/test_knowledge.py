"""The knowledge store: text extraction, passages, the trust score, and search over REST."""

from __future__ import annotations

from pathlib import Path

import pytest

from grace_chat.config import Settings
from grace_chat.learning.extract import ExtractionError, extract
from grace_chat.learning.passages import split_passages
from grace_chat.learning.trust import trust_score
from grace_chat.store.backends.sqlite_knowledge import match_expression
from tests.support.learning import (
    FAQ_HTML,
    GUIDE_MD,
    SPEC_PDF,
    finished,
    learning_server,
    make_pdf,
    search,
)

pytestmark = pytest.mark.engines


def test_text_comes_out_of_pdf_markdown_html_and_plain_text() -> None:
    pdf = extract("CRM_API_Spec.pdf", SPEC_PDF)
    assert pdf.kind == "pdf" and pdf.detail["pages"] == 2
    assert "paginated customer records" in pdf.text and "Retry-After" in pdf.text

    md = extract("guide.md", GUIDE_MD)
    assert md.kind == "markdown" and md.title == "Deployment guide"
    assert "roll out canary instances first" in md.text  # emphasis markup is gone
    assert "**" not in md.text and "#" not in md.text

    html = extract("faq.html", FAQ_HTML)
    assert html.kind == "html" and html.title == "Billing FAQ"
    assert "prorated to the remaining quarter" in html.text
    assert "invisiblescripttoken" not in html.text and "color: red" not in html.text

    txt = extract("notes.txt", b"Plain notes\r\n\r\n\r\nwith   spaces")
    assert txt.kind == "text" and txt.text == "Plain notes\n\nwith spaces"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "not a readable PDF"),
        ("fake.pdf", b"this is not a pdf at all", "not a readable PDF"),
        ("report.docx", b"PK\x03\x04 zipped", "unsupported file type '.docx'"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type '.png'"),
        ("blob.txt", b"\x00\x01\x02binary", "looks binary"),
        ("empty.md", b"   \n", "the file is empty"),
        ("blank.pdf", make_pdf(""), "no text could be extracted"),
    ],
)
def test_unreadable_documents_say_why(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError, match=reason.replace("(", r"\(")):
        extract(name, data)


def test_trust_follows_the_documented_formula() -> None:
    # base x (0.5 + 0.5 x coverage) - 0.03 x warnings - short penalty, clamped and rounded
    clean_pdf, terms = trust_score(extract("spec.pdf", SPEC_PDF))
    assert clean_pdf == 0.92 and terms == {
        "base": 0.92,
        "coverage": 1.0,
        "warnings": 0,
        "short_penalty": 0.0,
        "score": 0.92,
    }
    half_blank = extract("half.pdf", make_pdf("A page with enough words to read. " * 10, ""))
    assert half_blank.coverage == 0.5 and len(half_blank.warnings) == 1
    assert trust_score(half_blank)[0] == round(0.92 * 0.75 - 0.03, 2)  # 0.66

    body = ("Long enough plain text to avoid the short penalty. " * 8).encode()
    clean_text = trust_score(extract("a.txt", body))[0]
    damaged = trust_score(extract("b.txt", body + b"\xff\xfe broken bytes"))[0]
    assert clean_text == 0.90 and damaged < clean_text
    assert trust_score(extract("short.md", b"# Hi\n\nshort"))[0] == round(0.95 - 0.10, 2)
    # Same input, same score: nothing random.
    assert trust_score(extract("spec.pdf", SPEC_PDF)) == trust_score(extract("x.pdf", SPEC_PDF))


def test_passages_pack_paragraphs_and_cut_long_ones_without_losing_text() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 30 for i in range(10)]
    passages = split_passages("\n\n".join(paragraphs), target=400, limit=600)
    assert all(0 < len(p) <= 600 for p in passages)
    assert 3 <= len(passages) < 10
    assert " ".join(" ".join(passages).split()) == " ".join(" ".join(paragraphs).split())

    giant = "Sentence number one is here. " * 100 + "x" * 2000
    cut = split_passages(giant, target=400, limit=600)
    assert all(len(p) <= 600 for p in cut)
    assert "".join(cut).replace(" ", "").replace("\n", "") == giant.replace(" ", "")


def test_queries_are_reduced_to_words() -> None:
    assert match_expression('rate AND "limits" (NEAR') == '"rate" "and" "limits" "near"'
    assert match_expression("rate limits", any_word=True) == '"rate" OR "limits"'
    assert match_expression("*** ---") is None


async def test_search_over_rest_finds_passages_of_pdf_markdown_and_html(
    settings: Settings, tmp_path: Path
) -> None:
    docs = {"CRM_API_Spec.pdf": SPEC_PDF, "guide.md": GUIDE_MD, "faq.html": FAQ_HTML}
    for name, data in docs.items():
        (tmp_path / name).write_bytes(data)
    async with learning_server(settings) as (srv, supervisor):
        jobs = [await supervisor.submit(tmp_path / name, "user") for name in docs]
        for job in jobs:
            assert (await finished(srv, job.task_id))["state"] == "succeeded"

        (pdf_hit, *_) = await search(srv, "requests per minute")
        assert pdf_hit["name"] == "CRM_API_Spec.pdf"
        assert "[requests]" in pdf_hit["snippet"] and "[minute]" in pdf_hit["snippet"]
        assert pdf_hit["trust"] == 0.92 and pdf_hit["document_id"].startswith("doc_")

        (md_hit, *_) = await search(srv, "automatic rollback")
        assert md_hit["name"] == "guide.md" and "[rollback]" in md_hit["snippet"]

        (html_hit, *_) = await search(srv, "refunds prorated")
        assert html_hit["name"] == "faq.html" and "[prorated]" in html_hit["snippet"]

        # Stemming, and any-word fallback when no passage has every word.
        assert (await search(srv, "invoice generation"))[0]["name"] == "faq.html"
        assert (await search(srv, "canary zebra"))[0]["name"] == "guide.md"
        assert await search(srv, "invisiblescripttoken") == []
        # FTS5 operators are just words here: no query is a syntax error.
        assert [h["name"] for h in await search(srv, 'each "month" AND (')] == ["faq.html"]
        # Another user's knowledge is theirs alone.
        assert await search(srv, "requests per minute", user="someone-else") == []

        async with srv.http() as http:
            listing = await http.get("/api/knowledge/documents", headers=srv.auth("user"))
            assert {d["name"] for d in listing.json()["documents"]} == set(docs)
            doc_id = pdf_hit["document_id"]
            one = await http.get(f"/api/knowledge/documents/{doc_id}", headers=srv.auth("user"))
            assert one.json()["kind"] == "pdf" and one.json()["trust_detail"]["coverage"] == 1.0
            assert any("Retry-After" in p for p in one.json()["passages"])
            other = await http.get(f"/api/knowledge/documents/{doc_id}", headers=srv.auth("eve"))
            assert other.status_code == 403
            bad = await http.get("/api/knowledge/search", headers=srv.auth("user"))
            assert bad.status_code == 422

        # Learning a file again replaces what was learned from it.
        (tmp_path / "guide.md").write_bytes(b"# Deployment guide\n\nBlue-green switchover only.")
        again = await supervisor.submit(tmp_path / "guide.md", "user")
        assert (await finished(srv, again.task_id))["state"] == "succeeded"
        assert await search(srv, "canary") == []
        assert (await search(srv, "switchover"))[0]["name"] == "guide.md"
