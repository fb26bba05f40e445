"""Campaign writes: create, change, switch on/off, duplicate, archive or delete.

Every check that gives a marketer a message lives in ``campaign_check`` (the API and the
console both call it); the database constraints hold the invariants regardless.
"""

from campaigns.services.campaigns.checks import (
    CODE_PATTERN,
    RULE_FIELDS,
    TARGETED,
    TARGETS,
    TIERED,
    UNTARGETED,
    campaign_check,
    campaign_common_check,
    campaign_merged_fields,
    campaign_segment_ids,
    code_normalize,
    code_taken,
    iana_zones,
    invalid,
    notify_changes,
)
from campaigns.services.campaigns.writes import (
    campaign_create,
    campaign_delete,
    campaign_duplicate,
    campaign_save,
    campaign_status_set,
    campaign_update,
    register_campaign_usage,
    segment_usage,
)

__all__ = [
    "CODE_PATTERN",
    "RULE_FIELDS",
    "TARGETED",
    "TARGETS",
    "TIERED",
    "UNTARGETED",
    "campaign_check",
    "campaign_common_check",
    "campaign_create",
    "campaign_delete",
    "campaign_duplicate",
    "campaign_merged_fields",
    "campaign_save",
    "campaign_segment_ids",
    "campaign_status_set",
    "campaign_update",
    "code_normalize",
    "code_taken",
    "iana_zones",
    "invalid",
    "notify_changes",
    "register_campaign_usage",
    "segment_usage",
]
