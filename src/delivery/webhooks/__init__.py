"""Webhooks: per-project endpoints, Standard Webhooks signatures, deliveries as queue jobs.

Events are emitted in the writer's transaction (`delivery.db.webhooks.emit`,
and database triggers for assets and balances), one message per subscribed
endpoint; a queue job (`delivery.jobs`) delivers each with `deliver`, and
schedules the next attempt on failure (PROMPTPIX_WEBHOOK_RETRY_SCHEDULE).
"""

from delivery.webhooks.delivery import DELIVER_TASK, WEBHOOK_QUEUE, deliver
from delivery.webhooks.endpoints import EVENTS, create_endpoint, redeliver
from delivery.webhooks.guard import check_url
from delivery.webhooks.signing import new_secret, sign

__all__ = ["DELIVER_TASK", "EVENTS", "WEBHOOK_QUEUE", "check_url", "create_endpoint", "deliver", "new_secret", "redeliver", "sign"]
