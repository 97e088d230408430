"""Template helpers for the portal's Bootstrap layout and its figures.

Money and quantities are shown the same way in both languages (``12,345.67``): staff read
them next to the marketing system's printouts, whatever the UI language.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import forms, template

register = template.Library()

CENT = Decimal("0.01")


def _to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


@register.filter
def money(value) -> str:
    """Yuan to the fen with thousands separators: ``Decimal("12345.6")`` → ``"12,345.60"``."""
    number = _to_decimal(value)
    if number is None:
        return ""
    return f"{number.quantize(CENT, rounding=ROUND_HALF_UP):,}"


@register.filter
def quantity(value) -> str:
    """A quantity (kWh, kVA, kW) with thousands separators and no trailing zeros."""
    number = _to_decimal(value)
    if number is None:
        return ""
    if number == number.to_integral_value():
        return f"{number.quantize(Decimal(1)):,}"
    return f"{number.normalize():,f}"


def widget_css_class(widget: forms.Widget) -> str:
    if isinstance(widget, forms.CheckboxInput):
        return "form-check-input"
    if isinstance(widget, forms.Select):
        return "form-select"
    return "form-control"


@register.simple_tag
def bs_widget(field, size: str = "", **attrs):
    """Render a bound field's widget with Bootstrap's classes (and ``is-invalid`` on errors).

    ``{% bs_widget form.username autofocus=True %}``; ``size="sm"`` gives the small variant.
    """
    widget = field.field.widget
    css = widget_css_class(widget)
    classes = [css]
    if size and css != "form-check-input":
        classes.append(f"{css}-{size}")
    existing = widget.attrs.get("class")
    if existing:
        classes.append(existing)
    if field.errors:
        classes.append("is-invalid")
        attrs.setdefault("aria-describedby", f"{field.auto_id}_errors")
    attrs["class"] = " ".join(classes)
    return field.as_widget(attrs=attrs)


ALERT_CLASSES = {"debug": "secondary", "info": "info", "success": "success", "warning": "warning", "error": "danger"}


@register.filter
def alert_class(message) -> str:
    """Bootstrap's alert colour for a ``django.contrib.messages`` message."""
    return ALERT_CLASSES.get(getattr(message, "level_tag", ""), "info")
