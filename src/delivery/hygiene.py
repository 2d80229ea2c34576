"""The one rule for text a client sends: valid UTF-8, no control characters, JSON nested only so deep.

Used by the ASGI middleware every request passes (`http/hygiene.py`: paths,
queries, form and JSON bodies) and by code that takes text from elsewhere (the
CLI, MCP arguments, the links API's parameters), so a value refused at one door
is refused at every door. Paths refuse every control character; queries and
bodies allow tab and line breaks (a prompt may span lines) and refuse the rest
of C0, DEL and C1: NUL is never stored, logged, signed or sent to a provider.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from delivery.errors import InvalidText

__all__ = ["check_json", "check_path", "check_query", "check_text", "percent_decoded"]

_IN_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")
"""A `\\uXXXX` escape in JSON text: preceded by an even run of backslashes, so not itself escaped."""
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SUSPECT = re.compile(rb"[\x00-\x1f\x7f-\xff]|%[01]|%7f|%[89a-f]", re.IGNORECASE)
"""Raw URL bytes that could decode to a control character or to non-ASCII: only these need the full check."""


def _describe(char: str) -> str:
    return f"a control character (U+{ord(char):04X})"


def check_text(text: str, where: str, *, line_breaks: bool = True) -> str:
    """`text` itself, or InvalidText naming `where` and the first offending character."""
    bad = (_IN_TEXT if line_breaks else _IN_PATH).search(text)
    if bad:
        raise InvalidText(f"{where} contains {_describe(bad[0])}")
    surrogate = re.search(r"[\ud800-\udfff]", text)
    if surrogate:
        raise InvalidText(f"{where} contains a lone surrogate (U+{ord(surrogate[0]):04X}): not valid UTF-8")
    return text


def percent_decoded(raw: bytes, where: str, *, plus_is_space: bool = False) -> str:
    """Raw URL bytes, percent-decoded and read as strict UTF-8 (InvalidText otherwise)."""
    data = raw.replace(b"+", b" ") if plus_is_space else raw
    try:
        return unquote_to_bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidText(f"{where} is not valid UTF-8 once percent-decoded") from None


def check_path(raw_path: bytes) -> None:
    if not _SUSPECT.search(raw_path):
        return
    check_text(percent_decoded(raw_path, "the path"), "the path", line_breaks=False)


def check_query(raw_query: bytes, *, what: str = "the query") -> None:
    """Each name and value of a query (or an urlencoded form): names never take line breaks."""
    if not _SUSPECT.search(raw_query):
        return  # plain ASCII without escapes of controls or non-ASCII bytes: nothing to decode (most image URLs)
    for pair in raw_query.split(b"&"):
        name, _, value = pair.partition(b"=")
        decoded_name = percent_decoded(name, f"a parameter name in {what}", plus_is_space=True)
        check_text(decoded_name, f"parameter name {decoded_name!a}", line_breaks=False)
        label = f"parameter `{decoded_name}`" if decoded_name.isprintable() and decoded_name.isascii() else f"a parameter in {what}"
        check_text(percent_decoded(value, label, plus_is_space=True), label)


def check_json(body: bytes, *, max_depth: int) -> None:
    """A JSON body's strings, raw or escaped, and its nesting; malformed JSON is left to the decoder to refuse."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidText("the JSON body is not valid UTF-8") from None
    check_text(text, "the JSON body")
    for _, hex_digits in _ESCAPE.findall(text):  # lone surrogates are the decoder's to refuse
        if _IN_TEXT.match(chr(int(hex_digits, 16))):
            raise InvalidText(f"the JSON body contains {_describe(chr(int(hex_digits, 16)))}")
    _check_depth(text, max_depth)


def _check_depth(text: str, max_depth: int) -> None:
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot nest deeper than it has brackets
    depth = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > max_depth:
            raise InvalidText(f"the JSON body is nested deeper than {max_depth} levels")
