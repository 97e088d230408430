"""Signals billing sends so that other apps can react without billing importing them."""

from django.dispatch import Signal

# Sent after commit when every chunk of a posting job is done: job_id, cause_type, cause_id.
posting_job_done = Signal()

# Sent to ask whether a policy has approved items billing cannot see (sender=Policy, policy=…).
# A receiver returns a short reason ("2 approved eligibility lists") or None; see billing.policy_rules.
policy_in_use = Signal()
