"""Model registry operations: champion lookup, promotion by alias."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.settings import Settings


@dataclass(frozen=True)
class ChampionInfo:
    version: str
    run_id: str


def champion(settings: Settings, client: MlflowClient | None = None) -> ChampionInfo | None:
    client = client or MlflowClient()
    try:
        mv = client.get_model_version_by_alias(settings.registered_model_name, settings.champion_alias)
    except MlflowException:
        return None
    return ChampionInfo(version=str(mv.version), run_id=mv.run_id)


def promote(settings: Settings, version: str, reason: str, client: MlflowClient | None = None) -> None:
    """Point the champion alias at ``version`` and record on that version why, when and what it replaced
    (tags ``champion.reason``, ``champion.promoted_at``, ``champion.previous``): an alias keeps no history,
    and a manual promotion past the gate should say why as plainly as the gate does."""
    client = client or MlflowClient()
    name = settings.registered_model_name
    client.get_model_version(name, str(version))  # raises if unknown
    before = champion(settings, client)
    client.set_registered_model_alias(name, settings.champion_alias, str(version))
    for key, value in (("champion.reason", reason), ("champion.promoted_at", datetime.now(UTC).isoformat()),
                       ("champion.previous", before.version if before else "none")):
        client.set_model_version_tag(name, str(version), key, value)

