"""Data rights for campaign rows (registered on import, from CampaignsConfig.ready). List
memberships and run recipients hold nothing but the link to the customer, who becomes "Erased
customer": they are exported, and kept on erasure so audience sizes and results hold."""

from __future__ import annotations

from campaigns.models import Recipient, SegmentMember
from customers import privacy

privacy.register(SegmentMember, section="segment_memberships")
privacy.register(Recipient, section="campaign_recipients")
