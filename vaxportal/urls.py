"""Redirect targets we accept from the user: local paths only (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None."""
    if not target or len(target) > 2000:
        return None
    target = target.strip()
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
