"""``manage.py prescreen POLICY``: create or refresh every district's draft eligibility list."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.engine import to_wan
from workflow.eligibility import eligibility_prescreen
from workflow.models import EligibilityList


class Command(BaseCommand):
    help = "Create or refresh the draft eligibility list of every district for a policy (e.g. discount-2020)."

    def add_arguments(self, parser):
        parser.add_argument("policy", help="policy code, e.g. discount-2020 (the 95% policy)")

    def handle(self, *args, policy, **options):
        try:
            results = eligibility_prescreen(policy_code=policy)
        except ValidationError as exc:
            raise CommandError("; ".join(" ".join(v) for v in exc.message_dict.values())) from exc
        lists = {lst.pk: lst for lst in EligibilityList.objects.filter(pk__in=[r.list_id for r in results])}
        for r in results:
            lst = lists[r.list_id]
            if r.state != "draft":
                self.stdout.write(f"{r.district}: list #{r.list_id} is {r.state}, left unchanged")
                continue
            self.stdout.write(
                f"{r.district}: list #{r.list_id} +{r.added} -{r.dropped}; "
                f"{lst.forecast_accounts} accounts ({to_wan(lst.forecast_accounts)} 万户), "
                f"forecast {lst.forecast_reduction} yuan ({to_wan(lst.forecast_reduction)} 万元)"
            )
