"""Reading rendered pages in view tests: the text a person sees, the value a form kept."""

from __future__ import annotations

import html
import re


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def input_value(response, name: str) -> str | None:
    """The value an <input name=...> is rendered with (None when it has none)."""
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', response.content.decode())
    assert tag, f"no input named {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None
