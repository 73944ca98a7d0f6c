"""Model registry operations: champion lookup, promotion by alias."""

from __future__ import annotations

from dataclasses import dataclass

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


def promote(settings: Settings, version: str, client: MlflowClient | None = None) -> None:
    client = client or MlflowClient()
    client.get_model_version(settings.registered_model_name, str(version))  # raises if unknown
    client.set_registered_model_alias(settings.registered_model_name, settings.champion_alias, str(version))

