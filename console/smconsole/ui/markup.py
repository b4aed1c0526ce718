"""Text from AWS, files and containers inside the console's markup, shown as it is.

Rich's `escape` (and Textual's, the same) escapes only what looks like a tag: a lone `[`, as
in a JSON preview `{"embeddings":[[-0.13, …`, is left, and Textual's markup parser then
pairs it with the next tag and refuses the whole string (MarkupError: the timeline crashed
on every embedding). Every `[` is escaped here.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """`text` as markup that shows exactly `text`."""
    return text.replace("[", "\\[")
