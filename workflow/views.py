"""The chain's pages: clerk entry, the queues per level, the item pages and one view per action.

Thin views: reads come from ``workflow.selectors`` / ``workflow.queues`` (scoped to the user's
district: an item outside it answers 404), writes go through the services. A service's refusal
never becomes a 500: ``ValidationError`` is shown beside the field (forms) or as a message naming
the field (actions), ``PermissionDenied`` as a message with its reason, ``organisation.errors.Conflict``
as a "changed meanwhile" message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from billing.engine import to_wan
from billing.selectors import posting_job_for, posting_job_status
from billing.serializers import PostingJobSerializer
from billing.tables import BoundedLazyPaginator
from organisation.api import READ_ERRORS, PortalAPIView
from organisation.errors import Conflict
from organisation.roles import Role
from organisation.scoping import scope_to_user

from . import chain, selectors
from .chain import Action, ReasonCode, State
from .effects import cause_of
from .eligibility import eligibility_entry_change, prescreen_start, prescreen_summary
from .filters import ApplicationQueueFilter, ListQueueFilter
from .forms import (
    ENTRY_ERROR_FIELDS,
    INCLUDE,
    ApplicationEntryForm,
    EntryChangeForm,
    PrescreenForm,
    TransitionForm,
    VerificationForm,
    add_service_errors,
)
from .models import CAPACITY_KINDS, Application, ChainItem, EligibilityList, PrescreenRun, PrescreenRunState, Scan
from .queues import queue_applications, queue_counts, queue_get, queue_lists, queues_of
from .services import application_create, item_transition, verification_record
from .tables import ApplicationQueueTable, EntryTable, ListQueueTable

PAGINATION = {"per_page": 25, "paginator_class": BoundedLazyPaginator}
# States in which an item has a posting job (programme.md §3: approved → settled by the task).
POSTED_STATES = frozenset({State.APPROVED, State.SETTLED})

# Labels of the fields a service's ValidationError may name, for the messages of the action views.
FIELD_LABELS = {
    "reason": gettext_lazy("Reason"),
    "reason_code": gettext_lazy("Reason code"),
    "verification": gettext_lazy("Verification"),
    "expected_state": gettext_lazy("State shown on the page"),
    "action": gettext_lazy("Action"),
}
ACTION_BUTTON_CLASS = {
    Action.SUBMIT: "btn-primary",
    Action.APPROVE: "btn-success",
    Action.RETURN: "btn-outline-warning",
    Action.REJECT: "btn-outline-danger",
    Action.WITHDRAW: "btn-outline-secondary",
}


def describe_validation_error(error: ValidationError, labels: dict | None = None) -> str:
    """One line per field, named by its label: ``Reason: Return needs a reason.`` (``原因：退回须填写原因。``)"""
    labels = {**FIELD_LABELS, **(labels or {})}
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    parts = []
    for key, errors in error.error_dict.items():
        text = " ".join(message for e in errors for message in e.messages)
        # A message of the whole form stands alone; a field is named by its label, never its code.
        parts.append(
            text
            if key == NON_FIELD_ERRORS
            else _("%(field)s: %(errors)s") % {"field": labels.get(key, key), "errors": text}
        )
    return " ".join(parts)


def _actor_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


# --- the item pages' shared parts ----------------------------------------------------------------


class ItemPageMixin:
    """Context an item page shares: the actions the viewer may take now and the decision history."""

    action_url_prefix: str  # "workflow:application" or "workflow:list"

    def item_context(self, item: ChainItem) -> dict:
        user = self.request.user
        allowed = selectors.item_transitions(item, user)
        actions = [
            {
                "name": name,
                "label": Action(name).label,
                "url": reverse(f"{self.action_url_prefix}-{name}", args=[item.pk]),
                "needs_reason": name in chain.REASON_REQUIRED,
                "needs_code": name == Action.REJECT,
                "button_class": ACTION_BUTTON_CLASS[Action(name)],
            }
            for name in allowed
        ]
        waiting_for = None
        level = chain.LEVEL_OF_STATE.get(item.state)
        if level is not None:
            waiting_for = {"level": chain.Level(level).label, "role": Role(chain.ROLE_OF_LEVEL[level]).label}
        return {
            "item": item,
            "actions": actions,
            "simple_actions": [a for a in actions if not a["needs_reason"] and a["name"] != Action.WITHDRAW],
            "reason_actions": [a for a in actions if a["needs_reason"] or a["name"] == Action.WITHDRAW],
            "decisions": item.decision_history(),
            "reason_codes": ReasonCode.choices,
            "waiting_for": waiting_for,
            "open": item.state in chain.OPEN_STATES,
            **self.posting_job_context(item),
        }

    # The API route of the item's posting-job progress (polled by static/js/posting-job.js).
    posting_job_url_name: str

    def posting_job_context(self, item: ChainItem) -> dict:
        """The item's posting job, once approved: one query, none before (there is no job before approval)."""
        if item.state not in POSTED_STATES:
            return {"posting_job": None}
        cause_type, cause_id = cause_of(item)
        job = posting_job_for(cause_type=cause_type, cause_id=cause_id)
        if job is None:
            return {"posting_job": None}
        return {
            "posting_job": posting_job_status(job),
            "posting_job_url": reverse(self.posting_job_url_name, args=[item.pk]),
        }


# --- applications ------------------------------------------------------------------------------


class ApplicationCreateView(FormView):
    """A clerk enters an application (counter, or paper by proxy with scans); it is saved as a draft."""

    template_name = "workflow/application_form.html"
    form_class = ApplicationEntryForm

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_role(Role.CLERK):
            raise PermissionDenied(_("Only clerks enter applications."))
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            application = application_create(by=self.request.user, **form.service_kwargs())
        except ValidationError as error:
            add_service_errors(form, error, ENTRY_ERROR_FIELDS)
            return self.form_invalid(form)
        except PermissionDenied as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Application #%(id)s saved as a draft. Check it, then submit it for district review.")
            % {"id": application.pk},
        )
        return redirect("workflow:application-detail", pk=application.pk)

    def form_invalid(self, form):
        form.focus_first_error()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ApplicationDetailView(ItemPageMixin, TemplateView):
    """An application: fields, account, proxy, scans, verification, history and the viewer's actions."""

    template_name = "workflow/application_detail.html"
    action_url_prefix = "workflow:application"
    posting_job_url_name = "api:application-posting-job"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        application = selectors.application_get(user=user, pk=kwargs["pk"])
        if application is None:
            raise Http404
        proxy = getattr(application, "proxy", None)
        proxy_id = None
        if proxy is not None:
            proxy_id = proxy.id_number if selectors.proxy_id_visible(application, user) else proxy.id_number_masked
        context.update(
            self.item_context(application),
            application=application,
            account=application.account,
            proxy=proxy,
            proxy_id=proxy_id,
            proxy_id_full=proxy is not None and proxy_id == proxy.id_number,
            scans=list(application.scans.all()),
            verification=getattr(application, "verification", None),
            needs_verification=application.kind in CAPACITY_KINDS,
            can_verify=_may_verify(application, user),
            action_hint=(
                _("Approval is offered once the meter-data check confirms the application and the survey is recorded.")
                if _may_verify(application, user) and not application.evidence_complete()
                else ""
            ),
        )
        return context


def _may_verify(application: Application, user) -> bool:
    return (
        application.kind in CAPACITY_KINDS
        and application.state == State.PENDING_DISTRICT
        and user.has_role(chain.ROLE_OF_LEVEL[chain.Level.REPORT_2])
        and user.district_id == application.district_id
    )


class VerificationView(FormView):
    """The district reviewer records the meter-data check and the site survey of a capacity application."""

    template_name = "workflow/verification_form.html"
    form_class = VerificationForm

    def dispatch(self, request, *args, **kwargs):
        self.application = get_object_or_404(
            scope_to_user(Application.objects.select_related("account", "district", "verification"), request.user),
            pk=kwargs["pk"],
        )
        if not _may_verify(self.application, request.user):
            messages.error(
                request,
                _(
                    "Verification is recorded by a district reviewer of the application's district, for a "
                    "capacity application waiting for district review."
                ),
            )
            return redirect("workflow:application-detail", pk=self.application.pk)
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return VerificationForm.initial_from(getattr(self.application, "verification", None))

    def get_context_data(self, **kwargs):
        return super().get_context_data(application=self.application, **kwargs)

    def form_valid(self, form):
        try:
            verification_record(application=self.application, by=self.request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        except Conflict as error:
            messages.warning(self.request, error.message)
        except PermissionDenied as error:
            messages.error(self.request, _("Not allowed: %(reason)s") % {"reason": error})
        else:
            messages.success(self.request, _("Verification recorded."))
        return redirect("workflow:application-detail", pk=self.application.pk)


class ScanDownloadView(View):
    """A scan, streamed from private storage to staff who may see its application (404 otherwise)."""

    def get(self, request, pk: int):
        scans = scope_to_user(
            Scan.objects.select_related("application"), request.user, district_field="application__district"
        )
        scan = get_object_or_404(scans, pk=pk)
        try:
            handle = scan.file.open("rb")
        except FileNotFoundError as error:
            raise Http404 from error
        response = FileResponse(
            handle, content_type=scan.content_type, as_attachment=False, filename=scan.original_name
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- actions -------------------------------------------------------------------------------------


class ItemActionView(View):
    """Take one action on one item (POST only); the result is a message on the item page."""

    http_method_names = ["post"]
    action: str
    model: type[ChainItem]
    detail_url_name: str

    def post(self, request, pk: int):
        item = get_object_or_404(scope_to_user(self.model.objects.all(), request.user), pk=pk)
        form = TransitionForm(request.POST)
        if not form.is_valid():
            messages.error(request, describe_validation_error(ValidationError(form.errors.as_data())))
            return redirect(self.detail_url_name, pk=item.pk)
        data = form.cleaned_data
        try:
            item = item_transition(
                item=item,
                action=self.action,
                by=request.user,
                reason=data["reason"],
                reason_code=data["reason_code"],
                expected_state=data["expected_state"],
            )
        except Conflict as error:
            messages.warning(request, error.message)
        except PermissionDenied as error:
            messages.error(request, _("Not allowed: %(reason)s") % {"reason": error})
        except ValidationError as error:
            messages.error(request, describe_validation_error(error))
        else:
            messages.success(
                request,
                _("%(action)s: #%(id)s is now %(state)s.")
                % {"action": Action(self.action).label, "id": item.pk, "state": State(item.state).label},
            )
        return redirect(self.detail_url_name, pk=item.pk)


class ApplicationActionView(ItemActionView):
    model = Application
    detail_url_name = "workflow:application-detail"


class ApplicationSubmitView(ApplicationActionView):
    action = Action.SUBMIT


class ApplicationApproveView(ApplicationActionView):
    action = Action.APPROVE


class ApplicationReturnView(ApplicationActionView):
    action = Action.RETURN


class ApplicationRejectView(ApplicationActionView):
    action = Action.REJECT


class ApplicationWithdrawView(ApplicationActionView):
    action = Action.WITHDRAW


class ListActionView(ItemActionView):
    model = EligibilityList
    detail_url_name = "workflow:list-detail"


class ListSubmitView(ListActionView):
    action = Action.SUBMIT


class ListApproveView(ListActionView):
    action = Action.APPROVE


class ListReturnView(ListActionView):
    action = Action.RETURN


class ListRejectView(ListActionView):
    action = Action.REJECT


class ListWithdrawView(ListActionView):
    action = Action.WITHDRAW


# --- eligibility lists -------------------------------------------------------------------------


class ListDetailView(ItemPageMixin, TemplateView):
    """A district eligibility list: forecast in 万户/万元, its entries, history, actions and clerk changes."""

    template_name = "workflow/list_detail.html"
    action_url_prefix = "workflow:list"
    posting_job_url_name = "api:eligibility-list-posting-job"

    def get_list(self) -> EligibilityList:
        lst = selectors.eligibility_list_get(user=self.request.user, pk=self.kwargs["pk"])
        if lst is None:
            raise Http404
        return lst

    def may_change(self, lst: EligibilityList) -> bool:
        user = self.request.user
        return lst.state == State.DRAFT and user.has_role(Role.CLERK) and user.district_id == lst.district_id

    def get_context_data(self, *, entry_form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        lst = self.get_list()
        query = (self.request.GET.get("q") or "").strip()
        entries = selectors.eligibility_entries(eligibility_list=lst).order_by("account_no")
        if query:
            condition = Q(account__name__icontains=query)
            if query.isascii() and query.isdigit():
                condition |= Q(account__account_no__startswith=query)
            entries = entries.filter(condition)
        table = EntryTable(entries)
        RequestConfig(self.request, paginate=PAGINATION).configure(table)
        may_change = self.may_change(lst)
        context.update(
            self.item_context(lst),
            lst=lst,
            table=table,
            query=query,
            forecast_accounts_wan=to_wan(lst.forecast_accounts),
            forecast_reduction_wan=to_wan(lst.forecast_reduction),
            forecast_billed_wan=to_wan(lst.forecast_billed),
            may_change=may_change,
            entry_form=(entry_form or EntryChangeForm()) if may_change else None,
        )
        return context


class ListEntryChangeView(ListDetailView):
    """A clerk of the district adds or removes an account on a draft list (with a reason)."""

    http_method_names = ["post"]

    def post(self, request, pk: int):
        lst = self.get_list()
        form = EntryChangeForm(request.POST)
        if form.is_valid():
            include = form.cleaned_data["change"] == INCLUDE
            try:
                entry = eligibility_entry_change(
                    eligibility_list=lst,
                    account_no=form.cleaned_data["account_no"],
                    include=include,
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            except (Conflict, PermissionDenied) as error:
                messages.error(request, getattr(error, "message", None) or str(error))
                return redirect("workflow:list-detail", pk=lst.pk)
            else:
                message = (
                    _("Account %(no)s added to the list.") if include else _("Account %(no)s removed from the list.")
                )
                messages.success(request, message % {"no": entry.account.account_no})
                return redirect("workflow:list-detail", pk=lst.pk)
        context = self.get_context_data(entry_form=form, pk=pk)
        return self.render_to_response(context, status=400)


class ListIndexView(TemplateView):
    """Every district's live eligibility lists (scoped to the viewer), and the city reviewer's pre-screen.

    The pre-screen runs as a Celery task (docs/workflow.md: about 4 s at 50,000 accounts on SQLite,
    more at the programme's scale): the page shows the latest run's progress, polled by
    static/js/prescreen.js, and once done its result per district.
    """

    template_name = "workflow/list_index.html"

    def get_context_data(self, *, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        lists = scope_to_user(
            EligibilityList.objects.exclude(state__in=[State.REJECTED, State.WITHDRAWN]).select_related(
                "policy", "district"
            ),
            user,
        ).order_by("policy__code", "district__sort_order", "district__code")
        rows = [
            {
                "lst": lst,
                "accounts_wan": to_wan(lst.forecast_accounts),
                "reduction_wan": to_wan(lst.forecast_reduction),
            }
            for lst in lists
        ]
        may_prescreen = user.has_role(Role.CITY_REVIEWER)
        run = summary = None
        if may_prescreen:
            run = PrescreenRun.objects.select_related("policy", "requested_by").first()
            if run is not None and run.state == PrescreenRunState.DONE:
                summary = prescreen_summary(run.results)
        context.update(
            rows=rows,
            may_prescreen=may_prescreen,
            prescreen_form=(form or PrescreenForm()) if may_prescreen else None,
            run=run,
            run_by=_actor_name(run.requested_by) if run else "",
            summary=summary,
        )
        return context


def _require_city_reviewer(user) -> None:
    if not user.has_role(Role.CITY_REVIEWER):
        raise PermissionDenied(_("Only the city reviewer starts the pre-screen."))


class ListPrescreenView(View):
    """The city reviewer starts (or refreshes) the pre-screen of a policy (POST only; others: 403)."""

    http_method_names = ["post"]

    def post(self, request):
        _require_city_reviewer(request.user)
        form = PrescreenForm(request.POST)
        if not form.is_valid():
            labels = {"policy": _("Policy")}
            messages.error(request, describe_validation_error(ValidationError(form.errors.as_data()), labels))
            return redirect("workflow:list-index")
        try:
            run = prescreen_start(policy_code=form.cleaned_data["policy"], by=request.user)
        except ValidationError as error:
            messages.error(request, describe_validation_error(error, {"policy": _("Policy")}))
        except Conflict as error:
            messages.warning(request, error.message)
        else:
            messages.info(
                request,
                _("Pre-screen of %(policy)s started (run #%(id)s); its progress is shown below.")
                % {"policy": run.policy.name, "id": run.pk},
            )
        return redirect("workflow:list-index")


class PrescreenRunStatusView(View):
    """A pre-screen run's progress as JSON (polled by static/js/prescreen.js); city reviewer only."""

    http_method_names = ["get"]

    def get(self, request, pk: int):
        _require_city_reviewer(request.user)
        run = get_object_or_404(PrescreenRun, pk=pk)
        return JsonResponse(
            {
                "id": run.pk,
                "state": run.state,
                "state_label": str(PrescreenRunState(run.state).label),
                "active": run.active,
                "districts_done": run.districts_done,
                "districts_total": run.districts_total,
                "percent": run.percent,
                "error": run.error,
            },
            headers={"Cache-Control": "no-store"},
        )


# --- queues --------------------------------------------------------------------------------------


class MyQueuesView(View):
    """The navigation's "my queues": the first queue of the user's roles (or ``?level=`` of them)."""

    def get(self, request):
        queues = queues_of(request.user)
        if not queues:
            raise PermissionDenied(_("Only the chain's roles have queues."))
        wanted = request.GET.get("level")
        queue = next((q for q in queues if q.level == wanted), queues[0])
        return redirect("workflow:queue", level=queue.level)


class QueueView(SingleTableMixin, FilterView):
    """One level's queue: its applications (filtered, paged without COUNT) and its eligibility lists."""

    template_name = "workflow/queue.html"
    table_class = ApplicationQueueTable
    filterset_class = ApplicationQueueFilter
    table_pagination = PAGINATION

    def dispatch(self, request, *args, **kwargs):
        self.queue = queue_get(kwargs["level"])
        if self.queue is None:
            raise Http404
        if not request.user.has_role(self.queue.role):
            raise PermissionDenied(
                _("This queue is worked by the role %(role)s.") % {"role": Role(self.queue.role).label}
            )
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return queue_applications(level=self.queue.level, user=self.request.user)

    def get_table_kwargs(self):
        if not self.request.user.sees_all_districts:
            return {"exclude": ("district",)}
        return {}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        queues = queues_of(user)
        # Tabs (with their counts) only for a person who works more than one level.
        counts = queue_counts(user=user, levels=[q.level for q in queues]) if len(queues) > 1 else {}
        list_table = None
        if not context["filter"].narrows_applications_only:
            lists = ListQueueFilter(
                self.request.GET, queryset=queue_lists(level=self.queue.level, user=user), request=self.request
            ).qs
            list_table = ListQueueTable(
                lists, prefix="lists-", exclude=() if user.sees_all_districts else ("district",)
            )
            RequestConfig(self.request, paginate=PAGINATION).configure(list_table)
        context.update(
            queue=self.queue,
            tabs=[{"queue": q, "count": counts.get(q.level), "active": q == self.queue} for q in queues],
            list_table=list_table,
            bulk_label=Action(self.queue.forward_action).label,
        )
        return context


class BulkForwardView(View):
    """Approve (or, for drafts, submit) the selected items one by one and report on each row.

    Nothing all-or-nothing: each item goes through ``item_transition`` in its own transaction with
    the state the queue showed; a refusal or a change meanwhile is reported and the rest go on.
    """

    http_method_names = ["post"]

    def post(self, request, level: str):
        queue = queue_get(level)
        if queue is None:
            raise Http404
        if not request.user.has_role(queue.role):
            raise PermissionDenied(_("This queue is worked by the role %(role)s.") % {"role": Role(queue.role).label})
        back = HttpResponseRedirect(self._back_url(request, queue.level))
        expected_state = request.POST.get("expected_state") or queue.state
        if expected_state != queue.state:
            messages.error(request, _("The page did not say which state it showed: reload it and try again."))
            return back
        selected = [
            (model, pk)
            for model, field in ((Application, "applications"), (EligibilityList, "lists"))
            for pk in _ids(request.POST.getlist(field))
        ]
        if not selected:
            messages.info(request, _("Select the items first."))
            return back
        action = queue.forward_action
        for model, pk in selected:
            self._one(request, model, pk, action=action, expected_state=expected_state)
        return back

    @staticmethod
    def _back_url(request, level: str) -> str:
        # Back to the page as it was filtered: only the query string comes from the form.
        url = reverse("workflow:queue", args=[level])
        query = request.POST.get("query", "").lstrip("?")
        return f"{url}?{query}" if query else url

    def _one(self, request, model, pk: int, *, action: str, expected_state: str) -> None:
        noun = _("Application") if model is Application else _("Eligibility list")
        label = f"{noun} #{pk}"
        item = scope_to_user(model.objects.select_related("district"), request.user).filter(pk=pk).first()
        if item is None:
            messages.error(request, _("%(item)s: not found in your queues.") % {"item": label})
            return
        try:
            item = item_transition(item=item, action=action, by=request.user, expected_state=expected_state)
        except Conflict as error:
            if error.current_state in State.values:
                why = _("%(item)s: changed meanwhile, it is now %(state)s.") % {
                    "item": label,
                    "state": State(error.current_state).label,
                }
            else:
                why = _("%(item)s: changed meanwhile — %(why)s") % {"item": label, "why": error.message}
            messages.warning(request, why)
        except PermissionDenied as error:
            messages.error(request, _("%(item)s: refused — %(why)s") % {"item": label, "why": error})
        except ValidationError as error:
            messages.error(
                request, _("%(item)s: refused — %(why)s") % {"item": label, "why": describe_validation_error(error)}
            )
        else:
            messages.success(
                request,
                _("%(item)s: %(action)s, now %(state)s.")
                % {"item": label, "action": Action(action).label, "state": State(item.state).label},
            )


def _ids(values: list[str]) -> list[int]:
    """Distinct positive integer ids in the order given; anything else is ignored."""
    seen: list[int] = []
    for value in values:
        if value.isascii() and value.isdigit() and 0 < int(value) < 2**31 and int(value) not in seen:
            seen.append(int(value))
    return seen


# --- posting-job progress (JSON, polled by the item pages) ---------------------------------------


def _item_id(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**31:
        raise NotFound()
    return int(value)


class PostingJobView(PortalAPIView):
    """The posting job of an approved item: state, chunks done of total, percent, last error.

    Scoped like the item (404 outside the caller's district, for an unknown id, or while the item
    has no job yet). Two queries besides authentication: the item, its job.
    """

    model: type[ChainItem]
    serializer_class = PostingJobSerializer

    def get(self, request, id: str):
        items = scope_to_user(self.model.objects.only("id", "district", "state"), request.user)
        item = items.filter(pk=_item_id(id)).first()
        if item is None:
            raise NotFound()
        cause_type, cause_id = cause_of(item)
        job = posting_job_for(cause_type=cause_type, cause_id=cause_id)
        if job is None:
            raise NotFound(_("This item has no posting job yet: it is created when the item is approved."))
        return Response(PostingJobSerializer(posting_job_status(job)).data)


ITEM_ID_PARAMETER = OpenApiParameter("id", str, OpenApiParameter.PATH, pattern=r"^\d+$")


@extend_schema(
    tags=["applications"],
    summary="The posting job of an approved application (progress)",
    parameters=[ITEM_ID_PARAMETER],
    responses={200: PostingJobSerializer, **READ_ERRORS},
)
class ApplicationPostingJobView(PostingJobView):
    model = Application


@extend_schema(
    tags=["eligibility-lists"],
    summary="The posting job of an approved eligibility list (progress)",
    parameters=[ITEM_ID_PARAMETER],
    responses={200: PostingJobSerializer, **READ_ERRORS},
)
class ListPostingJobView(PostingJobView):
    model = EligibilityList
