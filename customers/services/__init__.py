"""Write use-cases of the customers app: resolve, merge, undo, record interactions.

Every function owns its transaction. Split by concern; import from ``customers.services``.
"""

from customers.services.events import (
    build_interaction,
    insert_many,
    record_interaction,
    summarize,
)
from customers.services.lookup import (
    ACCOUNT_KINDS,
    ADDRESS_KINDS,
    find_customer,
    live,
    normalize_identifiers,
)
from customers.services.merge import (
    MERGED_FIELDS,
    _combine,
    accept_suggestion,
    merge,
    merge_many,
    oldest_first,
    reject_suggestion,
    suggest_merge,
    undo_blocker,
    undo_merge,
)
from customers.services.privacy import erase_customer, export_customer, export_document
from customers.services.profile import (
    apply_traits,
    merge_traits,
    refresh_search_text,
    search_text_for,
    update_profile,
)
from customers.services.resolve import alias, identify, resolve
from customers.services.suppression import erased_kinds, erased_pairs

__all__ = [
    "ACCOUNT_KINDS",
    "ADDRESS_KINDS",
    "MERGED_FIELDS",
    "_combine",
    "accept_suggestion",
    "alias",
    "apply_traits",
    "build_interaction",
    "erase_customer",
    "erased_kinds",
    "erased_pairs",
    "export_customer",
    "export_document",
    "find_customer",
    "identify",
    "insert_many",
    "live",
    "merge",
    "merge_many",
    "merge_traits",
    "normalize_identifiers",
    "oldest_first",
    "record_interaction",
    "refresh_search_text",
    "reject_suggestion",
    "resolve",
    "search_text_for",
    "suggest_merge",
    "summarize",
    "undo_blocker",
    "undo_merge",
    "update_profile",
]
