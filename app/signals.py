"""The core's signals: how channels hear about each other without importing each other.

Receivers are connected by the channel registry with ``weak=False`` so a function defined
inside a channel's setup is not dropped by blinker's weak references.

Each signal is sent with the Flask app as sender and keyword arguments as documented.
Every signal is sent after the sender committed what it announces, except
``message_sent``, which the delivery engine sends inside the transaction that records the
send (receivers add rows to the session and the engine commits them with its batch).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A message left Decant. kwargs: channel ("email"|"sms"), message_id (the message's
#: public id), customer_id.
message_sent = _signals.signal("message-sent")
#: A provider reported on a message. kwargs: channel, message_id (public id), event (delivered,
#: bounce, complaint, open, click, unsubscribe, failed...), data (dict).
message_event = _signals.signal("message-event")
#: A customer (or bare address) opted out. kwargs: channel, address, customer_id|None,
#: source ("STOP", "unsubscribe", "mailchimp", ...).
customer_opted_out = _signals.signal("customer-opted-out")
#: A customer opted back in. kwargs: channel, address, customer_id|None, source.
customer_opted_in = _signals.signal("customer-opted-in")
#: A text came in. kwargs: event_id (WebhookEvent id), data (the provider's fields),
#: message_id (the stored text's public id), customer_id|None.
inbound_sms = _signals.signal("inbound-sms")
#: A verified, first-seen provider webhook was stored. kwargs: provider, event_id, data.
webhook_received = _signals.signal("webhook-received")
#: Many verified provider webhooks stored at once (a batch: one SendGrid POST). kwargs:
#: provider, events (list of (event_id, kind, data)). A receiver returns the event ids it
#: applied; the others are then sent ``webhook_received`` one by one.
webhook_batch_received = _signals.signal("webhook-batch-received")
#: Many provider reports at once (a webhook batch). kwargs: channel, events (list of dicts
#: with message_id, event, data as ``message_event`` has them).
message_events = _signals.signal("message-events")
#: A customer's data changed (for list refreshes). kwargs: customer_id.
customer_changed = _signals.signal("customer-changed")
#: Many customers' data changed at once (an import). kwargs: customer_ids (sorted list).
#: ``customer_changed`` is sent too, per customer, when it has receivers.
customers_changed = _signals.signal("customers-changed")
#: A non-dry run of the CRM import service finished (one batch: an API call, or one batch
#: of a file). kwargs: entity, report (its counts and rows), user_id|None.
import_finished = _signals.signal("import-finished")
#: Customers joined a list, however they joined (added by hand or by the API, a CSV or
#: Mailchimp import, a smart list's refresh); sent once per batch, after its commit.
#: kwargs: list_id (the list's public id), customer_ids (internal ids of those who were
#: not on it before).
list_members_added = _signals.signal("list-members-added")
#: Orders were created (an import). kwargs: customer_ids (sorted list of those with a new
#: order).
orders_placed = _signals.signal("orders-placed")
#: Rescoring changed engagement scores (committed). kwargs: changes (list of
#: [customer id, score before (0 when never scored), score now]).
engagement_scores_changed = _signals.signal("engagement-scores-changed")
