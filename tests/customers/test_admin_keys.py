import re

import pytest
from django.urls import reverse

from customers import apikeys
from customers.models import ApiKey
from tests.customers.factories import SourceFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_an_administrator_creates_a_key_shown_once_that_works(client):
    client.force_login(StaffFactory(role="Administrator"))
    source = SourceFactory(name="POS", kind="pos")
    url = reverse("admin:customers_source_changelist")
    form = client.post(url, {"action": "create_key", "_selected_action": [source.pk]})
    assert form.status_code == 200
    assert b"shown once" in form.content
    created = client.post(
        url,
        {
            "action": "create_key",
            "_selected_action": [source.pk],
            "confirm": "1",
            "scopes": ["track", "read"],
            "name": "till 3",
        },
    )
    raw = re.search(rb"crm_[0-9a-f]{58}", created.content).group().decode()
    key = apikeys.authenticate(raw)
    assert key is not None
    assert (key.source_id, key.scopes, key.name) == (source.pk, ["read", "track"], "till 3")
    assert ApiKey.objects.get().key_hash != raw
    listing = client.get(reverse("admin:customers_apikey_changelist"))
    assert raw.encode() not in listing.content


def test_rotating_shows_a_new_key_and_stops_the_old_one(client, source_key):
    source, old = source_key
    client.force_login(StaffFactory(role="Administrator"))
    response = client.post(
        reverse("admin:customers_apikey_changelist"),
        {"action": "rotate", "_selected_action": [source.keys.get().pk]},
    )
    new = re.search(rb"crm_[0-9a-f]{58}", response.content).group().decode()
    assert apikeys.authenticate(old) is None
    assert apikeys.authenticate(new) is not None


def test_revoking_stops_the_key_at_once(client, source_key):
    source, raw = source_key
    client.force_login(StaffFactory(role="Administrator"))
    client.post(
        reverse("admin:customers_apikey_changelist"),
        {"action": "revoke", "_selected_action": [source.keys.get().pk]},
    )
    assert apikeys.authenticate(raw) is None


def test_support_agents_cannot_see_or_make_keys(client, source_key):
    client.force_login(StaffFactory(role="Support agent"))
    assert client.get(reverse("admin:customers_apikey_changelist")).status_code == 403
    source = source_key[0]
    response = client.post(
        reverse("admin:customers_source_changelist"),
        {"action": "create_key", "_selected_action": [source.pk]},
    )
    assert ApiKey.objects.count() == 1  # the action is not offered to them
    assert b"shown once" not in response.content
