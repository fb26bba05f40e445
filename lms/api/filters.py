"""List filters' shared plumbing."""

from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters


class LiveRowFilter(filters.FilterSet):
    """A list of rows a marketer switches on and off, that run in a window and are archived
    rather than erased (campaigns of every kind, loyalty programs): archived rows are left out
    unless asked for; ``active`` is "live now" as the model's ``objects.active(at)`` says;
    ``search`` finds ``search_contains`` holding the text or ``search_exact`` being it (case
    ignored)."""

    search_contains: tuple[str, ...] = ("name",)
    search_exact: tuple[str, ...] = ("code",)

    active = filters.BooleanFilter(method="filter_active", help_text="Live now (switched on, started, not ended).")
    archived = filters.BooleanFilter(help_text="Archived ones are left out unless asked for.")
    search = filters.CharFilter(method="filter_search", help_text="Name contains, or the code is.")

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("archived") is None:
            queryset = queryset.filter(archived=False)
        return super().filter_queryset(queryset)

    def filter_active(self, queryset, name, value):
        live = queryset.model.objects.active(timezone.now()).values("pk")
        return queryset.filter(pk__in=live) if value else queryset.exclude(pk__in=live)

    def filter_search(self, queryset, name, value):
        found = [Q(**{f"{field}__icontains": value}) for field in self.search_contains]
        found += [Q(**{f"{field}__iexact": value.strip()}) for field in self.search_exact]
        return queryset.filter(reduce(or_, found))
