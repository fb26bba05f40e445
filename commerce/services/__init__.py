"""Every write of the commerce mirror. Bulk calls answer one ``ItemResult`` per item."""

from dataclasses import dataclass, field
from typing import Any

from lms.errors import DomainError

MAX_BATCH = 1000


@dataclass
class ItemResult:
    index: int
    key: str  # the item's natural key: sku, external_id or email
    outcome: str = "created"  # created | updated | unchanged | replayed | rejected
    error: DomainError | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    obj: Any = None

    def reject(self, error: DomainError) -> "ItemResult":
        self.outcome, self.error = "rejected", error
        return self

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "key": self.key, "outcome": self.outcome}
        if self.error is not None:
            body["error"] = {"code": self.error.code, "message": self.error.message, "details": self.error.details}
        if self.warnings:
            body["warnings"] = self.warnings
        return body


def summarize(results: list[ItemResult]) -> dict[str, Any]:
    counts = {name: 0 for name in ("created", "updated", "unchanged", "replayed", "rejected")}
    for result in results:
        counts[result.outcome] += 1
    return {**counts, "results": [result.as_dict() for result in results]}
