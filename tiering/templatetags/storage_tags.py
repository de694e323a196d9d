"""Filters for the storage dashboard."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def dollars(value) -> str:
    """Money as people read it: cents from $1, more digits below (small sites bill fractions)."""
    value = float(value or 0)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    if value >= 0.01 or value == 0:
        return f"{sign}${value:.4f}"
    return f"{sign}${value:.6f}"


@register.filter
def percent(value) -> str:
    return f"{float(value or 0):.1f}%"
