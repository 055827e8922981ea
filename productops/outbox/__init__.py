"""The outbox: every message productops sends, as one delivery log.

A domain service records a :class:`~productops.outbox.models.Delivery` (with its content
rendered, or a renderer kind that renders it once before the first attempt) in the same
transaction as the change; the sender claims due rows with a lease, sends outside any
lock and records the result. See docs/reliability.md, "The outbox".
"""
