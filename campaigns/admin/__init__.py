"""The campaigns back office, registered on import as Django's autodiscovery expects.

A package, like customers.admin and channels.admin: segments with their rule builder, count,
import and exports (segment.py), and the builder's vocabulary (builder.py); campaigns with their
buttons, content, runs and audit trail (campaign.py, the form in campaign_form.py); and a run's
results page (results.py).
"""

from campaigns.admin.campaign import CampaignAdmin
from campaigns.admin.segment import SegmentAdmin

__all__ = ["CampaignAdmin", "SegmentAdmin"]
