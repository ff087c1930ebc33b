"""What the API and page tests share (the `client` fixture itself is in conftest.py)."""

from __future__ import annotations

import re

TOKEN = "operator-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


def csrf_of(page_html: str) -> str:
    """The CSRF token a page put in its forms."""
    return re.search(r'name="csrf" value="([0-9a-f]{32})"', page_html).group(1)
