"""Request and response bodies of the public API. Field names here are a contract: add, never rename."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

EXAMPLE_ITEM = {
    "id": "T-20261123-0001",
    "text": "充电宝用了两天就鼓包发烫，差点烧到孩子，你们必须给个说法！",
    "product_id": "SKU-PB-10000",
    "channel": "chat",
    "created_at": "2026-11-23T10:15:00+08:00",
}


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_ITEM]})

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    text: NonBlank
    product_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    channel: Annotated[str, StringConstraints(max_length=64)] | None = None
    created_at: datetime | None = None


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"items": [EXAMPLE_ITEM]}]})

    items: list[FeedbackItem] = Field(min_length=1)


class IssueTypeScore(BaseModel):
    label: str
    name: str
    score: float


class SentimentResult(BaseModel):
    label: Literal["negative", "neutral", "positive"]
    score: float = Field(ge=-1, le=1)


class UrgencyResult(BaseModel):
    level: Literal["critical", "high", "medium", "low"]
    score: float


class ClassificationResult(BaseModel):
    id: str
    issue_types: list[IssueTypeScore]
    sentiment: SentimentResult
    urgency: UrgencyResult
    priority: Literal["P1", "P2", "P3", "P4"]
    reasons: list[str]


class ClassifyResponse(BaseModel):
    model_version: str
    results: list[ClassificationResult]


class HealthStatus(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None
