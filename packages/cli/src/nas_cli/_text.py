"""Text that came from a file, made safe to print on a terminal.

Class names from an ONNX file's metadata, image file names and folder names are whatever their
author wrote: an ``ESC ]0;...BEL`` sequence retitles the terminal, ``ESC [31m`` colours everything
after it, C1 controls act like ESC on some terminals, and bidi overrides (``U+202E``) show a name
reversed. :func:`printable` writes each such character as a visible escape (``\\x1b``,
``\\u202e``), so the name stays recognisable and nothing reaches the terminal as a command.
"""

from __future__ import annotations

import re

# C0 and C1 controls (incl. tab, newline, ESC, DEL), bidi embeddings/overrides/isolates and marks,
# line and paragraph separators, and lone surrogates (undecodable bytes of a file name).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with every control, bidi and separator character written as an escape;
    printable text (any script, emoji) is unchanged. Idempotent."""
    return _UNSAFE.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte: show the byte
        code -= 0xDC00
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
