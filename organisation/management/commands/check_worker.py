"""``manage.py check_worker``: send a heartbeat through the broker and wait for a worker to answer."""

import time

from django.core.management.base import BaseCommand, CommandError

from organisation.models import Heartbeat
from organisation.services import heartbeat_send


class Command(BaseCommand):
    help = "Check that the broker and at least one Celery worker are up (exit 1 if not)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait (default 15)")

    def handle(self, *args, timeout, **options):
        started = time.monotonic()
        try:
            beat = heartbeat_send()
        except Exception as exc:  # the broker is down: say so plainly
            raise CommandError(f"broker unreachable: {exc}") from exc
        while time.monotonic() - started < timeout:
            beat = Heartbeat.objects.get(pk=beat.pk)
            if beat.seen_at:
                elapsed = time.monotonic() - started
                self.stdout.write(f"worker {beat.worker} answered in {elapsed:.2f}s")
                return
            time.sleep(0.2)
        raise CommandError(f"no worker answered within {timeout:g}s (is `celery -A portal worker` running?)")
