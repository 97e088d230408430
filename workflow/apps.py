import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)


def _settle_when_posted(sender, *, job_id, cause_type, cause_id, **kwargs):
    """billing finished a job (after commit): settle the item it was for."""
    if not cause_type:
        return
    from organisation.queue import enqueue_or_log

    # Broker down: the settle sweep does it later.
    enqueue_or_log("workflow.item_settle", cause_type, cause_id, what=f"settlement of {cause_type} {cause_id}")


def _approved_lists_of_policy(sender, *, policy, **kwargs):
    """billing asks whether a policy has approved items: eligibility lists approved under it."""
    from django.utils.translation import gettext

    from .chain import State
    from .models import EligibilityList

    count = EligibilityList.objects.filter(policy_id=policy.code, state__in=[State.APPROVED, State.SETTLED]).count()
    if count:
        return gettext("%(count)d eligibility list(s) approved under it") % {"count": count}
    return None


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = _("Workflow")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.signals import policy_in_use, posting_job_done

        from . import tasks  # noqa: F401 - registered with Celery (organisation.queue queues them by name)

        posting_job_done.connect(_settle_when_posted, dispatch_uid="workflow-settle-when-posted")
        policy_in_use.connect(_approved_lists_of_policy, dispatch_uid="workflow-approved-lists-of-policy")
