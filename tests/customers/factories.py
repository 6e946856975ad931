from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from customers.models import Consent, Customer, Identity, Interaction, Source


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = Source.Kind.WEB


class CustomerFactory(factory.django.DjangoModelFactory):
    """A live customer; ``interactions=N`` also gives them N timeline rows across channels."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")

    @factory.post_generation
    def interactions(self, create, extracted, **kwargs):
        if not create or not extracted:
            return
        InteractionFactory.create_batch(extracted, customer=self)


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    kind = Identity.Kind.EMAIL
    value = factory.Sequence(lambda n: f"person{n}@example.org")


CHANNELS = ["web", "app", "email", "sms", "phone", "store"]


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    channel = factory.Sequence(lambda n: CHANNELS[n % len(CHANNELS)])
    type = Interaction.Type.TRACK
    name = "Product Viewed"
    summary = factory.Sequence(lambda n: f"Viewed product {n}")
    occurred_at = factory.Sequence(lambda n: timezone.now() - timedelta(minutes=n))


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    customer = factory.SubFactory(CustomerFactory)
    purpose = Consent.Purpose.MARKETING
    status = Consent.Status.GRANTED


class StaffFactory(factory.django.DjangoModelFactory):
    """A staff user in one role: ``StaffFactory(role="Support agent")``."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
