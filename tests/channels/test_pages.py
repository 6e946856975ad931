import pytest
from django.test import Client

from channels import links
from channels.models import Message
from customers import services as customer_services
from customers.models import Consent, Customer, Identity, Interaction
from tests.channels.factories import MessageFactory
from tests.customers.factories import ConsentFactory, CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


def path(url):
    return url.removeprefix(links.absolute(""))


def unsubscribe_path(message):
    return path(links.unsubscribe_url(message))


def preferences_path(customer):
    return path(links.preferences_url(customer.public_id))


def altered(token):
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


@pytest.fixture
def message():
    return MessageFactory()


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def marketing(identity):
    return Consent.objects.filter(identity=identity, purpose="marketing").first()


# --- Bad links ---------------------------------------------------------------------------------


def bad_links(message):
    good_unsub = links.unsubscribe_token(message)
    good_prefs = links.preferences_token(message.customer.public_id)
    open_path = path(links.open_url(message))
    open_token = open_path.rstrip("/").rsplit("/", 1)[-1]
    return [
        ("get", f"/u/{altered(good_unsub)}/"),
        ("post", f"/u/{altered(good_unsub)}/"),
        ("post", "/u/not-a-token/"),
        # A token of another kind never works here, even though it is genuinely ours.
        ("post", f"/u/{open_token}/"),
        ("get", f"/preferences/{altered(good_prefs)}/"),
        ("post", f"/preferences/{good_unsub}/"),
        ("get", f"/t/c/{altered(path(links.click_url(message, 0)).split('/')[-2])}/"),
        ("get", f"/t/c/{open_token}/"),
    ]


def test_forged_or_altered_tokens_show_a_404_page_and_change_nothing(client, message):
    before = Interaction.objects.count()
    for method, url in bad_links(message):
        response = getattr(client, method)(url, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404, (method, url)
        assert "This link is not valid" in response.content.decode(), url
    assert Consent.objects.count() == 0
    assert Interaction.objects.count() == before
    message.refresh_from_db()
    assert message.clicked_at is None


# --- Unsubscribe -------------------------------------------------------------------------------


def test_get_asks_and_does_not_unsubscribe(client, message):
    response = client.get(unsubscribe_path(message))
    html = response.content.decode()
    assert response.status_code == 200
    assert message.to in html
    assert "<button" in html
    assert Consent.objects.count() == 0


def test_one_click_post_without_csrf_withdraws_marketing_and_writes_the_timeline(
    csrf_client, message
):
    ConsentFactory(customer=message.customer, identity=message.address, status="granted")
    response = csrf_client.post(
        unsubscribe_path(message),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        HTTP_USER_AGENT="Gmail one-click",
    )
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert links.preferences_url(message.customer.public_id) in response.content.decode()
    consent = marketing(message.address)
    assert consent.status == Consent.Status.WITHDRAWN
    assert consent.proof["method"] == "one-click"
    assert consent.proof["message"] == message.pk
    assert consent.proof["user_agent"] == "Gmail one-click"
    assert "ip" in consent.proof
    assert message.to in consent.wording
    change = Interaction.objects.get(customer=message.customer, name="Consent Changed")
    assert change.properties == {
        "purpose": "marketing",
        "status": "withdrawn",
        "address": message.to,
    }


def test_a_second_unsubscribe_is_harmless(csrf_client, message):
    for _ in range(2):
        response = csrf_client.post(unsubscribe_path(message), {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    assert Consent.objects.get().status == Consent.Status.WITHDRAWN
    assert Interaction.objects.filter(name="Consent Changed").count() == 1


def test_the_page_button_unsubscribes_with_its_own_method(client, message):
    client.post(unsubscribe_path(message))
    assert marketing(message.address).proof["method"] == "unsubscribe page"
    response = client.get(unsubscribe_path(message))
    assert "You are unsubscribed" in response.content.decode()


def test_unsubscribe_follows_a_merged_customer_to_the_survivor(client):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    message = MessageFactory(customer=duplicate)
    customer_services.merge(survivor=survivor, duplicate=duplicate)
    assert client.post(unsubscribe_path(message)).status_code == 200
    consent = Consent.objects.get()
    assert (consent.customer_id, consent.status) == (survivor.pk, "withdrawn")


@pytest.mark.parametrize(
    ("lang", "direction", "phrase"),
    [("fa", "rtl", "ایمیل"), ("ar", "rtl", "البريد"), ("az", "ltr", "")],
)
def test_unsubscribe_speaks_the_customers_language(client, lang, direction, phrase):
    message = MessageFactory(customer=CustomerFactory(locale=lang))
    html = client.get(unsubscribe_path(message), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert phrase in html


# --- Preference center ------------------------------------------------------------------------


@pytest.fixture
def person():
    customer = CustomerFactory(locale="en")
    email = IdentityFactory(customer=customer, kind="email", value="sara@example.org")
    phone = IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    ConsentFactory(customer=customer, identity=email, status="granted")
    return customer, email, phone


def form_post(client, url, data):
    client.get(url)
    data = {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, **data}
    return client.post(url, data)


def test_preferences_lists_each_address_with_its_marketing_box(client, person):
    customer, email, phone = person
    html = client.get(preferences_path(customer)).content.decode()
    assert "sara@example.org" in html
    assert "+989121234567" in html
    assert "SMS and WhatsApp" in html
    assert f'name="address_{email.pk}" id="id_address_{email.pk}" checked' in html
    assert f'name="address_{phone.pk}" id="id_address_{phone.pk}">' in html
    assert 'value="fa">فارسی</option>' in html


def test_preferences_in_persian_is_right_to_left(client, person):
    customer = person[0]
    Customer.objects.filter(pk=customer.pk).update(locale="fa")
    html = client.get(preferences_path(customer)).content.decode()
    assert '<html lang="fa" dir="rtl">' in html
    assert "ترجیحات" in html


def test_preferences_post_needs_the_csrf_token(csrf_client, person):
    customer, email, _ = person
    response = csrf_client.post(preferences_path(customer), {"language": "fa"})
    assert response.status_code == 403
    assert marketing(email).status == "granted"


def test_preference_center_toggles_consents_and_language(csrf_client, person):
    customer, email, phone = person
    response = form_post(
        csrf_client,
        preferences_path(customer),
        {"language": "fa", "shown": [email.pk, phone.pk], f"address_{phone.pk}": "on"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fa" dir="rtl">' in html
    assert 'role="status"' in html
    assert (marketing(email).status, marketing(phone).status) == ("withdrawn", "granted")
    assert marketing(phone).proof["method"] == "preference center"
    customer.refresh_from_db()
    assert customer.locale == "fa"
    changes = Interaction.objects.filter(customer=customer, name="Consent Changed")
    assert sorted(c.properties["status"] for c in changes) == ["granted", "withdrawn"]


def test_an_address_the_page_did_not_show_is_left_alone(client, person):
    customer, email, _ = person
    later = IdentityFactory(customer=customer, kind="email", value="new@example.org")
    ConsentFactory(customer=customer, identity=later, status="granted")
    form_post(
        client,
        preferences_path(customer),
        {"language": "en", "shown": [email.pk], f"address_{email.pk}": "on"},
    )
    assert marketing(later).status == "granted"
    assert not Interaction.objects.filter(name="Consent Changed").exists()


def test_an_invalid_language_is_a_form_error_and_changes_nothing(client, person):
    customer, email, phone = person
    response = form_post(
        client,
        preferences_path(customer),
        {"language": "xx", "shown": [email.pk, phone.pk], f"address_{phone.pk}": "on"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="errorlist"' in html
    assert "xx is not one of the available choices" in html
    assert marketing(phone) is None
    customer.refresh_from_db()
    assert customer.locale == "en"


def test_a_merged_profiles_link_opens_the_survivor(client):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    IdentityFactory(customer=duplicate, value="old@example.org")
    customer_services.merge(survivor=survivor, duplicate=duplicate)
    html = client.get(preferences_path(duplicate)).content.decode()
    assert "old@example.org" in html
    assert Identity.objects.get(value="old@example.org").customer_id == survivor.pk


# --- Open and click tracking -------------------------------------------------------------------


def test_open_pixel_stamps_opened_at_once_and_is_a_gif(client, message):
    url = path(links.open_url(message))
    first = client.get(url)
    message.refresh_from_db()
    stamped = message.opened_at
    second = client.get(url)
    message.refresh_from_db()
    assert stamped is not None
    assert message.opened_at == stamped
    for response in (first, second):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/gif"
        assert response.content.startswith(b"GIF89a")
        assert "no-cache" in response["Cache-Control"]
        assert "no-store" in response["Cache-Control"]
    assert Interaction.objects.filter(name="Message Opened").count() == 1


def test_open_pixel_with_a_bad_token_is_still_a_gif_and_stamps_nothing(client, message):
    token = path(links.open_url(message)).split("/")[-2]
    response = client.get(f"/t/o/{altered(token)}/")
    assert (response.status_code, response["Content-Type"]) == (200, "image/gif")
    message.refresh_from_db()
    assert message.opened_at is None
    assert not Interaction.objects.filter(name="Message Opened").exists()


def test_click_redirects_only_to_the_messages_own_url(client):
    message = MessageFactory(links=["https://shop.example.com/a", "https://shop.example.com/b"])
    response = client.get(path(links.click_url(message, 1)))
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/b"
    message.refresh_from_db()
    assert message.clicked_at is not None
    clicked = Interaction.objects.get(name="Message Clicked")
    assert clicked.properties["url"] == "https://shop.example.com/b"


@pytest.mark.parametrize("index", [2, -1, 99])
def test_click_with_an_index_outside_the_message_is_404(client, index):
    message = MessageFactory(links=["https://shop.example.com/a", "https://shop.example.com/b"])
    response = client.get(path(links.click_url(message, index)))
    assert response.status_code == 404
    assert "Location" not in response
    assert Message.objects.get(pk=message.pk).clicked_at is None
