"""The embed code a creator pastes into their website to add their agent's chat bubble."""

from __future__ import annotations

import html


def embed_snippet(public_base_url: str, bot_id: str) -> str:
    """One ``<script>`` tag that loads the widget for ``bot_id`` from this server."""
    src = html.escape(f"{public_base_url.rstrip('/')}/widget.js", quote=True)
    return f'<script src="{src}" data-bot="{html.escape(bot_id, quote=True)}" async></script>'
