"""The dashboard's tables of the chain (from ``workflow.stats``): applications by kind and state,
the chain's health per level, returns and rejections by reason, applications by channel.

:class:`ChainTables` is mixed into :class:`dashboard.figures.Figures` and reads what it holds
(``application_counts``, ``waiting``, ``times``, ``reasons``, ``items_link()``, ``filters``); it
does not import it.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from workflow import stats as workflow_stats
from workflow.chain import Action, Level, ReasonCode, State
from workflow.models import ApplicationKind, Channel

from .measures import PENDING, STATE_GROUPS
from .tables import COUNT, HOURS, Column, Row, Table, hours


class ChainTables:
    """The tables of applications, lists and decisions (each a cached property, built once per request)."""

    @cached_property
    def applications_table(self) -> Table:
        columns = [Column(key, label, COUNT, chart=True) for key, label, _states in STATE_GROUPS]
        columns.append(Column("total", _("Total"), COUNT))
        group_of = {state: key for key, _label, states in STATE_GROUPS for state in states}
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.application_counts:
            counts[row["kind"]][group_of[row["state"]]] += row["n"]
        rows = []
        for kind in ApplicationKind:
            row = Row(label=kind.label, values={})
            for key, _label, states in STATE_GROUPS:
                row.values[key] = counts[kind.value][key]
                row.links[key] = self.items_link(kind=kind.value, states=",".join(states))
            row.values["total"] = sum(counts[kind.value].values())
            row.links["total"] = self.items_link(kind=kind.value)
            row.label_link = row.links["total"]
            rows.append(row)
        footer = Row(label=_("All kinds"), values={})
        for key, _label, states in STATE_GROUPS:
            footer.values[key] = sum(r.values[key] for r in rows)
            footer.links[key] = self.items_link(states=",".join(states))
        footer.values["total"] = sum(r.values["total"] for r in rows)
        footer.links["total"] = self.items_link()
        return Table(
            "applications",
            _("Applications by kind and state"),
            _("Kind"),
            columns,
            rows,
            footer=footer,
            stacked=True,
            horizontal=True,
            note=_("Applications received in the billing month (all of them for the whole programme)."),
        )

    @cached_property
    def chain_table(self) -> Table:
        columns = [
            Column("applications", _("Applications waiting"), COUNT, chart=True),
            Column("overdue_applications", _("Applications overdue"), COUNT, chart=True),
            Column("lists", _("Lists waiting"), COUNT),
            Column("overdue_lists", _("Lists overdue"), COUNT),
            Column("decisions", _("Decisions timed"), COUNT),
            Column("median_hours", _("Median time (hours)"), HOURS),
            Column("p90_hours", _("90th percentile (hours)"), HOURS),
        ]
        rows = []
        for level in workflow_stats.LEVELS:
            waiting = self.waiting[level]
            times = self.times[level]
            state = workflow_stats.STATE_OF_LEVEL[level]
            row = Row(
                label=Level(level).label,
                values={
                    "applications": waiting.applications,
                    "overdue_applications": waiting.overdue_applications,
                    "lists": waiting.lists if not self.filters.category else None,
                    "overdue_lists": waiting.overdue_lists if not self.filters.category else None,
                    "decisions": times.decisions,
                    "median_hours": hours(times.median_seconds),
                    "p90_hours": hours(times.p90_seconds),
                },
                links={
                    "applications": self.items_link(period=False, states=state),
                    "overdue_applications": self.items_link(period=False, overdue=level),
                    "lists": self.items_link(items="lists", period=False, category=False, states=state),
                    "overdue_lists": self.items_link(items="lists", period=False, category=False, overdue=level),
                },
            )
            decided = self.items_link(period=False, decided_level=level)
            row.links["decisions"] = row.links["median_hours"] = row.links["p90_hours"] = decided
            rows.append(row)
        footer = Row(label=_("All levels"), values={})
        for key in ("applications", "overdue_applications", "decisions"):
            footer.values[key] = sum(r.values[key] for r in rows)
        if not self.filters.category:
            for key in ("lists", "overdue_lists"):
                footer.values[key] = sum(r.values[key] for r in rows)
        footer.links["applications"] = self.items_link(period=False, states=",".join(PENDING + [State.DRAFT.value]))
        return Table(
            "chain",
            _("Chain health: items waiting, overdue and time per level"),
            _("Level"),
            columns,
            rows,
            footer=footer,
            note=_(
                "The chain now (the billing month does not apply). Time at a level runs from the item's arrival "
                "at the level to the decision that ended its stay (submit, approve, return or reject), for "
                "applications and lists alike; lists have no category and are left out when one is chosen."
            ),
        )

    @cached_property
    def reasons_table(self) -> Table:
        columns = [
            Column("returns", _("Returns"), COUNT, chart=True),
            Column("rejections", _("Rejections"), COUNT, chart=True),
            Column("total", _("Total"), COUNT),
        ]
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.reasons:
            counts[row["reason_code"] or ""][row["action"]] += row["n"]
        rows = []
        codes = [("", _("No code (returns carry a text reason)")), *[(c.value, c.label) for c in ReasonCode]]
        for code, label in codes:
            returns = counts[code][Action.RETURN.value]
            rejections = counts[code][Action.REJECT.value]
            rows.append(
                Row(
                    label=label,
                    values={"returns": returns, "rejections": rejections, "total": returns + rejections},
                    links={
                        "returns": self.items_link(period=False, decision=Action.RETURN.value, reason_code=code or "-"),
                        "rejections": self.items_link(
                            period=False, decision=Action.REJECT.value, reason_code=code or "-"
                        ),
                    },
                )
            )
        footer = Row(
            label=_("All reasons"),
            values={k: sum(r.values[k] for r in rows) for k in ("returns", "rejections", "total")},
            links={
                "returns": self.items_link(period=False, decision=Action.RETURN.value),
                "rejections": self.items_link(period=False, decision=Action.REJECT.value),
            },
        )
        return Table(
            "reasons",
            _("Returns and rejections by reason code"),
            _("Reason code"),
            columns,
            rows,
            footer=footer,
            horizontal=True,
            stacked=True,
            note=_("Decisions on applications and (without a category filter) eligibility lists, at every level."),
        )

    @cached_property
    def channels_table(self) -> Table:
        groups = (
            ("open", _("In progress"), [State.DRAFT.value, *PENDING]),
            ("approved", _("Approved or settled"), [State.APPROVED.value, State.SETTLED.value]),
            ("closed", _("Rejected or withdrawn"), [State.REJECTED.value, State.WITHDRAWN.value]),
        )
        columns = [Column(key, label, COUNT, chart=True) for key, label, _s in groups]
        columns.append(Column("total", _("Total"), COUNT))
        group_of = {state: key for key, _label, states in groups for state in states}
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.application_counts:
            counts[row["channel"]][group_of[row["state"]]] += row["n"]
        rows = []
        for channel in Channel:
            row = Row(label=channel.label, values={}, highlight=channel == Channel.PAPER_PROXY)
            for key, _label, states in groups:
                row.values[key] = counts[channel.value][key]
                row.links[key] = self.items_link(channel=channel.value, states=",".join(states))
            row.values["total"] = sum(counts[channel.value].values())
            row.links["total"] = self.items_link(channel=channel.value)
            rows.append(row)
        footer = Row(
            label=_("All channels"),
            values={k: sum(r.values[k] for r in rows) for k in [*[g[0] for g in groups], "total"]},
            links={"total": self.items_link()},
        )
        return Table(
            "channels",
            _("Applications by channel"),
            _("Channel"),
            columns,
            rows,
            footer=footer,
            stacked=True,
            note=_("“Paper, by proxy” is the green channel: a relative acting for an elderly customer (亲人代办)."),
        )
