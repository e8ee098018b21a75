"""What the email, SMS and WhatsApp connectors share: one base, a ledger, and the transports.

``base`` (the steps every message takes), ``ledger`` (notification rows),
``outgoing`` (what passes between them), the transports ``file``, ``smtp``
and ``twilio``, and the channels' helpers: ``mime``, ``phones``, ``segments``.
"""
