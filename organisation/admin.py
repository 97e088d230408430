"""Administration of staff and districts (docs/admin.md).

Staff are never deleted (a person may have decided something): they are disabled. Roles are
chosen among ``organisation.roles.Role`` and kept as groups; the rules for roles and districts are
``organisation.services.staff_roles_validate``, the same as ``add_staff``'s.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .admin_site import HistoryViewOnlyMixin
from .models import District, User
from .roles import Role
from .services import staff_roles_set, staff_roles_validate

# Roles are kept in code (organisation.roles) and rebuilt after every migrate: no editing of groups here.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)

STAFF_FIELDS = ("username", "first_name", "last_name", "email", "district")


class RolesFormMixin(forms.Form):
    """The roles as checkboxes, validated with the district by the rules of ``staff_upsert``."""

    roles = forms.MultipleChoiceField(
        label=_("roles"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Clerks and district reviewers must have a district."),
    )
    # Set by the admin on the form class it builds for a request: who is editing.
    editing_user: User | None = None

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["roles"] = staff_roles_validate(roles=cleaned.get("roles") or [], district=cleaned.get("district"))
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                field = "roles" if key == "role" else key
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return cleaned
        editor, target = self.editing_user, self.instance
        if editor is not None and target.pk is not None and target.pk == editor.pk and not editor.is_superuser:
            if Role.ADMIN not in cleaned["roles"]:
                self.add_error("roles", gettext("You cannot take the administrator role from yourself."))
            if cleaned.get("is_active") is False:
                self.add_error("is_active", gettext("You cannot disable your own account."))
        return cleaned


class StaffCreationForm(RolesFormMixin, UserCreationForm):
    """A new person: the password is checked by AUTH_PASSWORD_VALIDATORS (UserCreationForm)."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = STAFF_FIELDS


class StaffChangeForm(RolesFormMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = (*STAFF_FIELDS, "password", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("roles", sorted(self.instance.roles))


class RoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Role.choices

    def queryset(self, request, queryset):
        if self.value() in Role.values:
            return queryset.filter(groups__name=self.value())
        return queryset


@admin.register(User)
class StaffAdmin(HistoryViewOnlyMixin, SimpleHistoryAdmin, UserAdmin):
    form = StaffChangeForm
    add_form = StaffCreationForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "email")}),
        (_("Work"), {"fields": ("roles", "district", "is_active")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2")}),
        (_("Person"), {"fields": ("first_name", "last_name", "email")}),
        (_("Work"), {"fields": ("roles", "district")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("username", "full_name", "role_names", "district", "is_active", "last_login")
    list_filter = ("is_active", RoleFilter, "district")
    list_select_related = ("district",)
    search_fields = ("username", "first_name", "last_name", "email")
    ordering = ("username",)
    filter_horizontal = ()
    history_list_display = ()

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("name"))
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.display(description=_("roles"))
    def role_names(self, obj: User) -> str:
        labels = dict(Role.choices)
        return "、".join(str(labels[r]) for r in Role.values if r in obj.roles)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.editing_user = request.user
        return form

    def has_change_permission(self, request, obj=None) -> bool:
        # An administrator does not change a superuser (nor its password): that would be a way up.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Never delete a person: disable them (a person may have decided something).
        return False

    def save_model(self, request, obj, form, change):
        obj.is_staff = Role.ADMIN in form.cleaned_data["roles"]
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        staff_roles_set(form.instance, form.cleaned_data["roles"])


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "sort_order")
    search_fields = ("name", "code")
    ordering = ("sort_order", "code")

    def has_delete_permission(self, request, obj=None) -> bool:
        # A district that has staff or accounts stays (they refer to it); an empty one may go.
        if obj is not None and (obj.staff.exists() or obj.accounts.exists()):
            return False
        return super().has_delete_permission(request, obj)
