"""Reads of media that other apps' pages share."""

from __future__ import annotations

from media import storage
from media.models import MediaAsset, MediaRendition


def media_asset_thumbnail_url(*, asset: MediaAsset | None) -> str:
    """The URL of the asset's smallest WebP grid rendition; "" when it has none (not ready).

    Reads ``asset.renditions.all()``, so prefetch them on a list."""
    if asset is None:
        return ""
    grid = [
        r
        for r in asset.renditions.all()
        if r.purpose == MediaRendition.Purpose.GRID and r.format == "webp"
    ]
    smallest = min(grid, key=lambda r: r.width, default=None)
    return storage.url_for(key=smallest.key) if smallest else ""
