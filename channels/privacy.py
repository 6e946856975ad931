"""Data rights for channel rows (registered on import, from ChannelsConfig.ready): messages are
exported whole, bodies included; an erasure keeps each message's row (channel, purpose, status,
times: delivery figures hold) and blanks who it went to and what it said."""

from __future__ import annotations

from channels.models import Message
from customers import privacy
from customers.privacy import Erasure, PersonalData
from security.models import VerificationCode


class MessageData(PersonalData):
    def erase(self, erasure: Erasure) -> None:
        rows = self.rows(erasure.customer_ids)
        # Nothing is sent to an erased person; a message already with the provider goes on.
        rows.filter(status=Message.Status.QUEUED).update(
            status=Message.Status.SUPPRESSED, reason="Customer erased", not_before=None
        )
        for pk, reason in rows.exclude(reason="").values_list("pk", "reason"):
            if erasure.mentions(reason):  # a provider's bounce text may quote the address
                Message.objects.filter(pk=pk).update(reason=erasure.scrub(reason))
        rows.update(to="", subject="", text="", html="", links=[], context={}, address=None)


class VerificationCodeData(PersonalData):
    """One-time codes are exported without their hash and deleted on erasure."""

    def export(self, customer_ids):  # type: ignore[no-untyped-def]
        return list(
            self.rows(customer_ids).values(
                "id", "customer_id", "kind", "value", "created_at", "expires_at", "consumed_at"
            )
        )

    def erase(self, erasure: Erasure) -> None:
        self.rows(erasure.customer_ids).delete()


privacy.register(Message, section="messages", handler=MessageData())
privacy.register(VerificationCode, section="verification_codes", handler=VerificationCodeData())
