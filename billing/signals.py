"""Signals billing sends so that other apps can react without billing importing them."""

from django.dispatch import Signal

# Sent after commit when every chunk of a posting job is done: job_id, cause_type, cause_id.
posting_job_done = Signal()
