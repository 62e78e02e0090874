from __future__ import annotations

from portal.domain.disclosure.sanitize import paragraphs


def test_paragraphs_and_links_but_never_markup() -> None:
    out = paragraphs("第一段\n第二行\n\n详见 https://example.gov.cn/notice "
                     '<script>alert(1)</script> <a href="javascript:alert(1)">x</a>')
    assert out.startswith("<p>第一段<br>第二行</p><p>")
    assert '<a href="https://example.gov.cn/notice" rel="nofollow noopener">' in out
    assert "<script>" not in out and 'href="javascript' not in out
    assert "&lt;script&gt;" in out


def test_the_sanitizer_is_the_only_place_bleach_is_imported() -> None:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    users = [p for p in [*root.joinpath("portal").rglob("*.py"), *root.joinpath("admin").rglob(
        "*.py")] if "import bleach" in p.read_text() or "from bleach" in p.read_text()]
    assert [p.name for p in users] == ["sanitize.py"]
