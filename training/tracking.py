"""MLflow wiring: tracking store, experiment, logging the pyfunc model and library versions."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow

from models.settings import REPO_ROOT, Settings

# Libraries whose versions are logged with every run and pinned in the logged model's requirements.
TRACKED_LIBRARIES = (
    "scikit-learn", "numpy", "scipy", "pandas", "mlflow", "rjieba", "jieba", "snownlp",
    "opencc-python-reimplemented", "pyyaml", "joblib", "torch", "transformers",
)
MODEL_REQUIREMENTS = (
    "scikit-learn", "numpy", "scipy", "pandas", "rjieba", "opencc-python-reimplemented", "pyyaml", "joblib",
)


def library_versions(names=TRACKED_LIBRARIES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def use_store(settings: Settings) -> None:
    """Point MLflow's tracking *and* registry at the configured store (creating a SQLite folder)."""
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def configure(settings: Settings) -> str:
    """Use the configured store and return the experiment id (created if needed)."""
    use_store(settings)
    exp = mlflow.get_experiment_by_name(settings.experiment_name)
    if exp is not None:
        return exp.experiment_id
    Path(settings.artifact_root).mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(settings.experiment_name, artifact_location=Path(settings.artifact_root).resolve().as_uri())


def log_pyfunc(analyzer_path: Path, taxonomy_path: Path, registered_name: str | None, input_example,
               extra_requirements: tuple[str, ...] = ()):
    """Log the pyfunc wrapper with the analyzer and taxonomy as artifacts and our packages as code."""
    from models.pyfunc import ANALYZER_ARTIFACT, TAXONOMY_ARTIFACT, FeedbackAnalyzerModel, signature

    names = MODEL_REQUIREMENTS + tuple(extra_requirements)
    reqs = [f"{n}=={v}" for n, v in library_versions(names).items() if v != "absent"]
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=FeedbackAnalyzerModel(),
        artifacts={ANALYZER_ARTIFACT: str(analyzer_path), TAXONOMY_ARTIFACT: str(taxonomy_path)},
        code_paths=[str(REPO_ROOT / "models")],
        signature=signature(),
        input_example=input_example,
        pip_requirements=reqs,
        registered_model_name=registered_name,
    )
