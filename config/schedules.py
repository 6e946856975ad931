"""The periodic tasks the product ships with.

``manage.py setup_schedules`` creates each as a django-celery-beat row once; staff may then edit
or disable it in the admin ("Periodic tasks") and the command never overwrites their change.
Task names are explicit strings, so renaming a function never orphans a schedule.
"""

from typing import TypedDict


class DefaultSchedule(TypedDict):
    name: str
    task: str
    every_seconds: int
    description: str
    expires_seconds: int


DEFAULT_SCHEDULES: list[DefaultSchedule] = [
    {
        "name": "Heartbeat",
        "task": "customers.heartbeat",
        "every_seconds": 60,
        "description": "Proves beat and a worker are alive; /readyz and describe_setup read it.",
        "expires_seconds": 55,
    },
    {
        "name": "Deliver due messages",
        "task": "channels.dispatch_due",
        "every_seconds": 60,
        "description": "Hands deferred messages whose time came (quiet hours, caps, retries) "
        "and any lost enqueue to the workers.",
        "expires_seconds": 55,
    },
    {
        "name": "Requeue interrupted sends",
        "task": "channels.requeue_stuck",
        "every_seconds": 300,
        "description": "Queues again messages a killed worker left 'sending' "
        "(at-least-once delivery on a crash).",
        "expires_seconds": 290,
    },
    {
        "name": "Advance journeys",
        "task": "journeys.advance_due",
        "every_seconds": 60,
        "description": "Moves due journey enrollments one step on (reminders, follow-ups).",
        "expires_seconds": 55,
    },
    {
        "name": "Resume stalled campaign runs",
        "task": "campaigns.requeue_stalled",
        "every_seconds": 60,
        "description": "Queues again the fan-out of a sending campaign run whose chunk workers "
        "died (a killed worker); nobody gets the campaign twice.",
        "expires_seconds": 55,
    },
    {
        "name": "Back-in-stock alerts",
        "task": "journeys.notify_restocks",
        "every_seconds": 60,
        "description": "Notifies the next batch of alerts of each product back in stock.",
        "expires_seconds": 55,
    },
    {
        "name": "Sweep verification codes",
        "task": "channels.sweep_verification_codes",
        "every_seconds": 3600,
        "description": "Blanks the messages of expired one-time codes and deletes codes "
        "expired over a day ago.",
        "expires_seconds": 3500,
    },
    {
        "name": "Interaction partitions ahead",
        "task": "customers.ensure_partitions",
        "every_seconds": 86400,
        "description": "Creates the interaction table's monthly partitions three months ahead "
        "(PostgreSQL; nothing on SQLite).",
        "expires_seconds": 82800,
    },
]
