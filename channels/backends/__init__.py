"""Delivery backends: one class per way of handing a message to a provider (see base.py)."""
