"""What media tells the apps built on it, so they can react without media importing them.

Tiering connects to these in its ``AppConfig.ready()``; with no receiver media works the same
(everything is written STANDARD and nothing is counted or restored).
"""

from django.dispatch import Signal

# Sent before a new original is written. A receiver may return the storage class to write it
# in (tiering answers INTELLIGENT_TIERING when S3 decides the tiers); none: STANDARD.
original_tier_wanted = Signal()

# Sent with ``asset_id`` when processing finds the original in an archive tier: it must be
# restored before it can be read (tiering asks S3); processing is retried later.
original_archived = Signal()

# Sent with ``asset_ids`` and ``archived`` (the ids among them whose large view or video is in an
# archive tier) when a page hands out the URLs of those assets' large views: tiering counts the
# access and asks for the restores.
large_view_served = Signal()
