import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)


def _settle_when_posted(sender, *, job_id, cause_type, cause_id, **kwargs):
    """billing finished a job (after commit): settle the item it was for."""
    if not cause_type:
        return
    from .tasks import item_settle

    try:
        item_settle.delay(cause_type, cause_id)
    except Exception:  # broker down: the settle sweep does it later
        log.warning("could not enqueue settlement of %s %s", cause_type, cause_id, exc_info=True)


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = _("Workflow")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.signals import posting_job_done

        posting_job_done.connect(_settle_when_posted, dispatch_uid="workflow-settle-when-posted")
