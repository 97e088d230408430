"""Staff, their roles and the districts they work in."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .roles import CITY_ROLES, Role


class StaffHistory(HistoricalRecords):
    """History of a person's record, without the password hash and without a row for every login."""

    def post_save(self, instance, created, using=None, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields and set(update_fields) <= {"last_login"}:
            return
        super().post_save(instance, created, using=using, **kwargs)


class District(models.Model):
    """A district (区) of the city served by the company."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=20, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of staff. Clerks and district reviewers belong to one district."""

    district = models.ForeignKey(
        District,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    history = StaffHistory(excluded_fields=["password", "last_login"])

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        permissions = [("view_dashboard", "Can view the managers' dashboard")]

    @cached_property
    def roles(self) -> frozenset[str]:
        """The role codes this user holds (group names that are roles)."""
        valid = set(Role.values)
        return frozenset(g.name for g in self.groups.all() if g.name in valid)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def sees_all_districts(self) -> bool:
        """City-level roles (and superusers) see every district; district roles only their own."""
        return self.is_superuser or bool(self.roles & CITY_ROLES)


class Heartbeat(models.Model):
    """A round trip through the broker and a worker, written by ``check_worker`` and the status page."""

    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    seen_at = models.DateTimeField(_("seen by a worker"), null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return f"heartbeat {self.pk}"
