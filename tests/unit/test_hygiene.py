"""The one text rule: what passes and what is refused, for paths, queries and JSON bodies."""

from __future__ import annotations

import pytest

from delivery.errors import InvalidText
from delivery.hygiene import check_json, check_path, check_query, check_text


@pytest.mark.parametrize(
    "query",
    [b"w=800&h=600&fit=crop", b"prompt=a%20red%20fox%0Aon%20two%20lines", b"prompt=caf%C3%A9&x=%E2%98%83", b"prompt=tab%09ok", b"a+b=c+d", b""],
)
def test_ordinary_queries_pass(query: bytes) -> None:
    check_query(query)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        (b"prompt=%00", "U+0000"),
        (b"prompt=a%1bb", "U+001B"),
        (b"prompt=%7f", "U+007F"),
        (b"prompt=%c2%85", "U+0085"),  # C1 NEL, as UTF-8
        (b"prompt=%ff", "not valid UTF-8"),
        (b"prompt=%ed%a0%80", "not valid UTF-8"),  # an encoded surrogate
        (b"a%0d%0ab=1", "parameter name"),  # line breaks never in a name
        (b"w%00=1", "parameter name"),
        (b"prompt=a\x00b", "U+0000"),  # a raw byte, as a lenient server may pass it
    ],
)
def test_hostile_queries_are_refused_saying_where(query: bytes, says: str) -> None:
    with pytest.raises(InvalidText) as refused:
        check_query(query)
    assert says in refused.value.message and refused.value.status == 400


def test_paths_refuse_every_control_character_and_bad_utf8() -> None:
    check_path(b"/i/acme/@logo")
    check_path(b"/cdn-cgi/image/width=10/i/%E2%98%83")
    for path in (b"/i/x%0a", b"/i/x%09", b"/i/%00", b"/i/%ff", b"/i/\xff"):
        with pytest.raises(InvalidText):
            check_path(path)


def test_json_escapes_are_read_with_backslash_parity() -> None:
    check_json(b'{"prompt": "two\\nlines\\tand a tab", "x": "\\u00e9"}', max_depth=4)
    check_json(b'{"prompt": "a literal \\\\u0000 is text"}', max_depth=4)  # an escaped backslash, then `u0000`
    for body in (b'{"p": "\\u0000"}', b'{"p": "\\\\\\u001b"}', b'{"p": "\\u007F"}', '{"p": "\x85"}'.encode()):
        with pytest.raises(InvalidText):
            check_json(body, max_depth=4)


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    check_json(b'{"a": [[["[[[[[[[[[[[[[[[["]]]}', max_depth=4)
    check_json(b"[" * 4 + b"]" * 4, max_depth=4)
    with pytest.raises(InvalidText, match="deeper than 4"):
        check_json(b"[" * 5 + b"]" * 5, max_depth=4)
    with pytest.raises(InvalidText, match="deeper than 32"):
        check_json(b"[" * 100_000, max_depth=32)


def test_text_from_elsewhere_follows_the_same_rule() -> None:
    assert check_text("a fox\non two lines", "`prompt`") == "a fox\non two lines"
    with pytest.raises(InvalidText, match="lone surrogate"):
        check_text("a\udcff", "`prompt`")  # what surrogateescape makes of a bad byte in argv
    with pytest.raises(InvalidText, match=r"U\+000A"):
        check_text("name\n", "the name", line_breaks=False)
