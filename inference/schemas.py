"""Request and response bodies of the public API. Field names here are a contract: add, never rename."""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _no_control_chars(value: str) -> str:
    """Tabs and newlines are text; other control characters and lone surrogates are transport garbage
    that would break storage, logs or the ticketing system downstream, so they are refused (422)."""
    for ch in value:
        if ch in "\t\n\r":
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Cs":
            raise ValueError(f"contains a control character U+{ord(ch):04X}; remove it and retry")
    return value


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


CleanText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_no_control_chars)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128), AfterValidator(_no_control_chars)]
ItemId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
                   AfterValidator(_no_control_chars)]

EXAMPLE_ITEM = {
    "id": "T-20261123-0001",
    "text": "充电宝用了两天就鼓包发烫，差点烧到孩子，你们必须给个说法！",
    "product_id": "SKU-PB-10000",
    "channel": "chat",
    "created_at": "2026-11-23T10:15:00+08:00",
    "customer_tier": "vip",
    "contact_count": 2,
    "order_value": 199.0,
}
EXAMPLE_ITEMS = [
    EXAMPLE_ITEM,
    {"id": "T-20261123-0002", "text": "快递一个星期还没到，客服也不回消息，这是第三次问了？？？", "channel": "app",
     "contact_count": 3},
    {"id": "T-20261123-0003", "text": "请问发票什么时候能开？抬头写公司名称", "channel": "email"},
]


class FeedbackItem(BaseModel):
    """One customer text with the ticket context the priority policy reads."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_ITEM]})

    id: ItemId = Field(description="Your id for this text (e.g. the ticket id); echoed back.")
    text: CleanText = Field(description="The customer's words, Chinese. Limit: FEEDBACK_MAX_TEXT_CHARS.")
    product_id: ShortText | None = Field(default=None, description="SKU or product id, for defect discovery.")
    channel: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64),
                       AfterValidator(_no_control_chars)] | None = Field(
        default=None, description="chat, email, phone, app, review, weibo, douyin, …")
    created_at: datetime | None = Field(default=None, description="When the customer wrote it; SLA due times "
                                                                 "count from here (default: now; naive = +08:00).")
    customer_tier: ShortText | None = Field(default=None, description="normal, vip, svip, enterprise, …")
    contact_count: int | None = Field(default=None, ge=0, le=100_000,
                                      description="How many times the customer has contacted you about this.")
    order_value: Annotated[float | None, AfterValidator(_finite)] = Field(
        default=None, ge=0, le=1e9, description="Order value in CNY.")
    ticket_id: ShortText | None = Field(default=None, description="The text's ticket in the configured ticketing "
                                                                  "system: triage updates it instead of creating one.")
    push_to_ticketing: bool = Field(default=True, description="False when the caller writes the result back "
                                                              "itself (e.g. the RT scrip).")


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"items": EXAMPLE_ITEMS}]})

    items: list[FeedbackItem] = Field(min_length=1, description="1 to FEEDBACK_MAX_BATCH_ITEMS texts.")


class IssueTypeScore(BaseModel):
    label: str = Field(description="Stable id, e.g. product_quality")
    name: str = Field(description="Chinese display name, e.g. 商品质量")
    score: float


class SentimentResult(BaseModel):
    label: Literal["negative", "neutral", "positive"]
    score: float = Field(ge=-1, le=1, description="P(positive) − P(negative)")


class UrgencyResult(BaseModel):
    level: Literal["critical", "high", "medium", "low"]
    score: float = Field(description="0 (low) … 1 (critical), from the urgency head before the policy")


class SlaDue(BaseModel):
    first_response_due: datetime
    resolution_due: datetime


class ClassificationResult(BaseModel):
    id: str
    issue_types: list[IssueTypeScore]
    sentiment: SentimentResult
    urgency: UrgencyResult
    priority: Literal["P1", "P2", "P3", "P4"]
    reasons: list[str] = Field(description="What drove the priority, Chinese and English")
    sla: SlaDue | None = Field(default=None, description="Due times of the priority's SLA")
    escalate_to_human: bool = False
    keywords: list[str] = Field(default_factory=list, description="Words that drove the issue types")
    suggested_actions: list[str] = Field(default_factory=list, description="From the after-sales playbook")
    model_version: str | None = None


class ClassifyResponse(BaseModel):
    model_version: str
    request_id: str | None = None
    results: list[ClassificationResult]


class StoredClassification(BaseModel):
    request_id: str
    item_id: str
    model_version: str
    product_id: str | None
    channel: str | None
    text_masked: str
    priority: str
    created_at: datetime
    received_at: datetime
    result: dict


class ClassificationPage(BaseModel):
    items: list[StoredClassification]


class HealthStatus(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None


class ErrorBody(BaseModel):
    detail: str | list
    request_id: str | None = None
