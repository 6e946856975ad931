"""The customers admin: the single customer view for support agents, merges and the rest.

A package (customer list and view, merge review, plain tables) that registers on import, as
Django's autodiscovery expects of ``customers.admin``.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from customers.admin.cases import CaseAdmin
from customers.admin.customer import CustomerAdmin
from customers.admin.keys import ApiKeyAdmin, SourceAdmin
from customers.admin.merge import MergeRecordAdmin, MergeSuggestionAdmin, merge_preview
from customers.admin.records import ConsentAdmin, IdentityAdmin, InteractionAdmin

admin.site.site_header = _("Omnichannel CRM")
admin.site.site_title = _("Omnichannel CRM")
admin.site.index_title = _("Customers, channels and campaigns")

__all__ = [
    "ApiKeyAdmin",
    "CaseAdmin",
    "ConsentAdmin",
    "CustomerAdmin",
    "IdentityAdmin",
    "InteractionAdmin",
    "MergeRecordAdmin",
    "MergeSuggestionAdmin",
    "SourceAdmin",
    "merge_preview",
]
