"""The campaigns back office, registered on import as Django's autodiscovery expects.

A package, like customers.admin and channels.admin: segments with their rule builder, count,
import and exports (segment.py), and the builder's vocabulary (builder.py).
"""

from campaigns.admin.segment import SegmentAdmin

__all__ = ["SegmentAdmin"]
