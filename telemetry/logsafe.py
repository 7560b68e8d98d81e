"""Log lines nobody can forge (CWE-117), in the gateway and the workers alike.

Whatever a record holds (a path, a header, a name, an exception's message) is written with its
control characters escaped: C0 and C1 controls, DEL, and the characters some viewers take for
line breaks or reorder text by (U+2028, U+2029, the bidirectional controls). So a value cannot
start a line of its own, hide part of one, or colour a terminal. The formatters here make that a
property of the line, not of each call site: `SafeFormatter` for the plain format, and JSON,
which escapes by its own rules.
"""

import logging

# Escaped as Python writes them in a string literal: \n, \t, \x1b, \u2028.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F)]
_UNSAFE += [*range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0xFEFF]
ESCAPES = {code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _UNSAFE}
# In the lines of a traceback: everything but the line breaks between them.
_TRACEBACK_ESCAPES = {code: text for code, text in ESCAPES.items() if code != 0x0A}
CONTINUATION = "    "  # the start of every further line of a record: never a line's own start


def escape(text):
    """`text` with every control character written as an escape (`\\n`, `\\x1b`, `\\u2028`...).
    Printable text comes back as it is, at the cost of one check."""
    if text.isprintable():  # every character escaped above is non-printable
        return text
    return text.translate(ESCAPES)


def escape_lines(text):
    """A multi-line text that follows a record's first line (a traceback, a stack): escaped but for
    its line breaks, and each line indented, so none of them can pass for a record of its own."""
    return CONTINUATION + text.translate(_TRACEBACK_ESCAPES).replace("\n", "\n" + CONTINUATION)


class SafeFormatter(logging.Formatter):
    """logging.Formatter whose record is one line, every field escaped; the traceback or stack
    that may follow it is indented under it, escaped but for its line breaks."""

    def formatMessage(self, record):
        return escape(super().formatMessage(record))

    def format(self, record):
        text = super().format(record)
        first, newline, rest = text.partition("\n")  # the first line has none: it is escaped
        return first + newline + escape_lines(rest) if newline else first
