"""Names people give records (an airport's name): any script, emoji included, but nothing that
hides or reorders text. One rule, written once as a pattern that Python's `re` and ECMAScript
(JSON Schema's `pattern`) read alike, so the OpenAPI document states exactly what the server checks:

- no control character (Unicode category Cc: NUL, tab, newline, ... U+007F-U+009F);
- no bidirectional control (Unicode's Bidi_Control: U+061C, U+200E-F, U+202A-E, U+2066-9),
  which can make a name display as another (the "Trojan Source" trick);
- at least one visible character: not only white space, joiners, variation selectors, fillers.

The rule applies to the name as sent; the name is then trimmed of surrounding white space and
normalised to NFC, so that the same name typed on two keyboards is stored (and compared) the same.
Invisible characters outside the Basic Multilingual Plane (tags U+E0000-E007F, which flag emoji
use) are not listed: ECMAScript patterns without the `u` flag cannot name them.
"""

import re
import unicodedata

import marshmallow
from marshmallow import fields, validate

CONTROL = r"\x00-\x1f\x7f-\x9f"
BIDI_CONTROL = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# The white space ECMAScript's \s matches. The server trims exactly these, not Python's
# str.isspace() set (which adds \x1c-\x1f and \x85 and lacks \ufeff).
WHITE_SPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Characters that show nothing on their own: white space, soft hyphen, joiners and other format
# characters, variation selectors, Hangul fillers, the blank Braille pattern.
INVISIBLE = (
    WHITE_SPACE + CONTROL + r"\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\uffa0"
)
# Lookaheads only, no `$`: Python's `$` also matches before a final newline, ECMAScript's does not.
NAME_PATTERN = rf"^(?![\s\S]*[{CONTROL}{BIDI_CONTROL}])(?=[\s\S]*[^{INVISIBLE}])"

_CONTROL = re.compile(f"[{CONTROL}]")
_BIDI_CONTROL = re.compile(f"[{BIDI_CONTROL}]")
_VISIBLE = re.compile(f"[^{INVISIBLE}]")
_SURROUNDING_SPACE = re.compile(rf"^[{WHITE_SPACE}]+|[{WHITE_SPACE}]+\Z")


class NameRule(validate.Validator):
    """The rule above, with a message saying which part failed; `regex` is what apispec writes
    into the document as the field's `pattern`."""

    regex = re.compile(NAME_PATTERN)

    def __call__(self, value):
        for found, message in [
            (_CONTROL.search(value), "Must not contain control characters (such as tab or newline): {}."),
            (_BIDI_CONTROL.search(value), "Must not contain bidirectional control characters: {}."),
        ]:
            if found:
                raise marshmallow.ValidationError(message.format(f"U+{ord(found.group()):04X}"))
        if not _VISIBLE.search(value):
            raise marshmallow.ValidationError("Must contain a visible character.")
        return value


def tidy(name):
    """The name as stored: surrounding white space trimmed, then NFC."""
    name = _SURROUNDING_SPACE.sub("", name)
    return name if unicodedata.is_normalized("NFC", name) else unicodedata.normalize("NFC", name)


class Name(fields.String):
    """A name: NameRule and at most `max_length` characters, both checked on the name as sent (so
    the documented `pattern` and `maxLength` are the rule), then tidied."""

    def __init__(self, *, max_length, **kwargs):
        super().__init__(validate=[NameRule(), validate.Length(max=max_length)], post_load=[tidy], **kwargs)
