"""Writes for staff and roles."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from .models import District, Heartbeat, User
from .queue import task_named
from .roles import DISTRICT_ROLES, ROLE_PERMISSIONS, Role


def roles_ensure_groups() -> None:
    """Create one group per role and give it exactly its permissions (idempotent)."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in ROLE_PERMISSIONS.get(role, ()):
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)


def district_by_name(name: str) -> District:
    """Find a district by its Chinese name or its code; a clear error names the choices."""
    district = District.objects.filter(name=name).first() or District.objects.filter(code=name).first()
    if district is None:
        choices = "、".join(District.objects.values_list("name", flat=True))
        raise ValidationError({"district": f"unknown district {name!r}; one of: {choices}"})
    return district


def staff_roles_validate(*, roles: Iterable[str], district: District | None) -> list[str]:
    """The rules for a person's roles and district (the command and the admin both use them).

    Returns the roles without repeats; raises ``ValidationError`` keyed ``role`` or ``district``.
    """
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        raise ValidationError({"role": f"unknown role(s) {', '.join(unknown)}; one of: {', '.join(Role.values)}"})
    if not roles:
        raise ValidationError({"role": gettext("At least one role is required.")})
    if DISTRICT_ROLES.intersection(roles) and district is None:
        raise ValidationError({"district": gettext("Clerks and district reviewers must have a district.")})
    return roles


def staff_roles_set(user: User, roles: Iterable[str]) -> None:
    """Give ``user`` exactly ``roles`` (as groups); only administrators may use Django's admin."""
    roles = list(roles)
    roles_ensure_groups()
    if user.is_staff != (Role.ADMIN in roles):
        user.is_staff = Role.ADMIN in roles
        user.save(update_fields=["is_staff"])
    user.groups.set(Group.objects.filter(name__in=roles))
    user.__dict__.pop("roles", None)


@transaction.atomic
def staff_upsert(
    *, username: str, roles: Iterable[str], district: District | None, password: str | None
) -> tuple[User, bool]:
    """Create or update a member of staff with exactly ``roles``.

    Clerks and district reviewers must have a district; city-level roles need none.
    Returns the user and whether it was created.
    """
    roles = staff_roles_validate(roles=roles, district=district)
    user, created = User.objects.get_or_create(username=username)
    user.district = district
    user.is_staff = Role.ADMIN in roles
    user.is_active = True
    if password is not None:
        # The portal's password rules (AUTH_PASSWORD_VALIDATORS: 12+ characters, not common, not
        # like the user name, not all digits), as for the admin's forms. Refused: nothing is written.
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    staff_roles_set(user, roles)
    return user, created


def heartbeat_send() -> Heartbeat:
    """Write a heartbeat row and, once it is committed, ask a worker to stamp it."""
    with transaction.atomic():
        beat = Heartbeat.objects.create()
        # After commit: a worker that looks before the commit would not find the row.
        transaction.on_commit(lambda: task_named("portal.heartbeat_record").delay(beat.pk))
    return beat


def heartbeat_record(*, heartbeat_id: int, worker: str) -> None:
    """Stamp a heartbeat as seen (idempotent: the first stamp stays)."""
    Heartbeat.objects.filter(pk=heartbeat_id, seen_at__isnull=True).update(seen_at=timezone.now(), worker=worker[:200])
