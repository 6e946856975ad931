"""The audit log records the staff actions that matter, with who, what and on whom; only
administrators read it and nobody edits it."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns import scheduling
from campaigns.models import Campaign, Segment
from channels.models import Template
from customers import apikeys
from customers import services as merging
from customers.models import Consent
from security.models import AuditEntry
from tests.customers.factories import (
    CustomerFactory,
    IdentityFactory,
    SourceFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action


def trail(action):
    return list(
        AuditEntry.objects.filter(action=action).values_list(
            "actor_label", "target_type", "target_id"
        )
    )


def test_a_staff_merge_and_its_undo_are_audited_but_automatic_merges_are_not():
    agent = StaffFactory(role="Support agent", username="leila")
    older, newer = CustomerFactory(), CustomerFactory()
    record = merging.merge(survivor=older, duplicate=newer, by=agent, reason="same person")
    merging.undo_merge(record, by=agent)
    merging.merge(survivor=older, duplicate=newer)  # by the trust rules: no staff member

    assert trail(Action.MERGE) == [("leila", "customers.customer", str(older.pk))]
    assert trail(Action.MERGE_UNDO) == [("leila", "customers.customer", str(older.pk))]
    entry = AuditEntry.objects.get(action=Action.MERGE)
    assert entry.details == {
        "duplicate": newer.pk,
        "merge_record": record.pk,
        "reason": "same person",
    }


def test_key_creation_rotation_and_revocation_are_audited_without_the_secret(client):
    admin = StaffFactory(role="Administrator", username="root")
    source = SourceFactory(name="POS")
    key, raw = apikeys.create_key(source, scopes=["track"], by=admin)
    new, new_raw = apikeys.rotate_key(key, by=admin)
    apikeys.revoke_key(new, by=admin)
    apikeys.revoke_key(new, by=admin)  # idempotent: no second entry

    assert [e.action for e in AuditEntry.objects.order_by("pk")] == [
        Action.KEY_CREATE,
        Action.KEY_CREATE,
        Action.KEY_ROTATE,
        Action.KEY_REVOKE,
    ]
    for entry in AuditEntry.objects.all():
        assert entry.actor_label == "root"
        assert entry.target_label == str(source)
        assert raw not in str(entry.details)
        assert new_raw not in str(entry.details)
    assert AuditEntry.objects.get(action=Action.KEY_ROTATE).details == {
        "key": f"{key.prefix}…",
        "replaced_by": f"{new.prefix}…",
    }


def test_a_consent_changed_by_staff_in_the_admin_is_audited(client):
    address = IdentityFactory(value="sara@example.com")
    customer = address.customer
    consent = Consent.objects.create(
        customer=customer,
        identity=address,
        purpose="marketing",
        status="granted",
        proof={"form": "checkout"},
    )
    admin = StaffFactory(role="Administrator", username="root")
    client.force_login(admin)
    url = reverse("admin:customers_consent_change", args=[consent.pk])
    response = client.post(
        url,
        {
            "customer": customer.pk,
            "identity": consent.identity_id,
            "purpose": "marketing",
            "status": "withdrawn",
            "wording": "",
            "proof": '{"form": "checkout"}',
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
            "updated_at_0": "2026-01-01",
            "updated_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]

    entry = AuditEntry.objects.get(action=Action.CONSENT)
    assert (entry.actor_label, entry.target_id) == ("root", str(customer.pk))
    assert entry.details["status"] == "withdrawn"
    assert entry.details["address"] == "sara@example.com"
    assert "status" in entry.details["changed"]
    assert entry.ip == "127.0.0.1"


def test_scheduling_and_approving_a_campaign_are_audited(settings):
    Template.objects.create(key="spring", kind="email", locale="en", subject="Hi", text="Sale")
    segment = Segment.objects.create(name="Everyone", rules={"all": []})
    campaign = Campaign.objects.create(
        name="Spring sale",
        segment=segment,
        channels=["email"],
        template_key="spring",
        schedule=Campaign.Schedule.RECURRING,
        crontab="0 9 * * 1",
    )
    settings.CAMPAIGN_APPROVAL_SIZE = 2
    CustomerFactory.create_batch(3)
    approver = StaffFactory(role="Marketing", username="mina")
    approver.user_permissions.add(Permission.objects.get(codename="approve_campaign"))

    scheduling.schedule(campaign, by=approver)

    approval = AuditEntry.objects.get(action=Action.CAMPAIGN_APPROVE)
    assert (approval.actor_label, approval.details) == ("mina", {"audience": 3, "limit": 2})
    scheduled = AuditEntry.objects.get(action=Action.CAMPAIGN_SCHEDULE)
    assert scheduled.target_label == str(campaign)
    assert scheduled.details["crontab"] == "0 9 * * 1"


def test_only_administrators_read_the_audit_log_and_nobody_edits_it(client):
    merging.merge(
        survivor=CustomerFactory(), duplicate=CustomerFactory(), by=StaffFactory(username="x")
    )
    entry = AuditEntry.objects.get()
    listing = reverse("admin:security_auditentry_changelist")
    change = reverse("admin:security_auditentry_change", args=[entry.pk])

    for role in ("Support agent", "Marketing"):
        client.force_login(StaffFactory(role=role))
        assert client.get(listing).status_code == 403

    client.force_login(StaffFactory(role="Administrator"))
    page = client.get(listing)
    assert page.status_code == 200
    assert "Customers merged" in page.content.decode()
    detail = client.get(change).content.decode()
    assert not re.search(r'name="_save"', detail)
    assert client.get(reverse("admin:security_auditentry_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:security_auditentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
