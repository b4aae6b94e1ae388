"""Sending notifications (issue 14): the messages of each channel (render.py), the channels
themselves (channels.py: SMTP with STARTTLS, webhooks over httpx) and the delivery loop that
drains the outbox core/notifications.py fills (delivery.py). No user interface is imported."""
