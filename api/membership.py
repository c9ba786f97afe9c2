"""The members use cases as a deployment configures them (:class:`~ledger_core.members.use_cases.Membership`).

The server (:func:`api.runtime.open_runtime`) and the CLI open their ledgers with the same
:func:`member_policy` (outcome suppression threshold, cost model, reminder send delay from the
``LEDGER_*`` settings); the server adds the signed enrollment links (:func:`enrollment_links`, keyed by
the deployment secret) that the eligibility answer carries.
"""

from __future__ import annotations

from datetime import timedelta

from api.security.enrollment_tokens import EnrollmentTokens
from api.settings import Settings
from ledger_core.members.cost_model import CostModel
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.use_cases import MemberPolicy


def member_policy(settings: Settings) -> MemberPolicy:
    """The deployment's :class:`MemberPolicy`."""
    return MemberPolicy(
        suppression_threshold=settings.members.outcome_suppression_threshold,
        cost_model=CostModel.from_mapping(dict(settings.members.cost_model)),
        reminder_send_delay=timedelta(seconds=settings.members.reminder_send_delay_seconds),
    )


def feed_policy(settings: Settings) -> FeedPolicy:
    """The deployment's eligibility-feed :class:`FeedPolicy` (``LEDGER_FEEDS_*``)."""
    return FeedPolicy(
        batch_size=settings.feeds.batch_size, alert_share=settings.feeds.alert_share, workers=settings.feeds.workers
    )


def enrollment_links(settings: Settings, deployment_secret: bytes) -> EnrollmentTokens:
    """The signed, expiring enrollment links of this deployment."""
    return EnrollmentTokens(
        deployment_secret,
        issuer=settings.security.issuer,
        base_url=settings.members.enrollment_base_url,
        ttl=timedelta(seconds=settings.members.enrollment_token_ttl_seconds),
    )
