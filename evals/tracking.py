"""Experiment tracking in MLflow (the optional `tracking` extra: pip install -e '.[tracking]').

Training runs are always tracked when MLflow is installed; eval runs when `SCISYNTH_MLFLOW_TRACKING_URI` is
set. The default store is SQLite under the home folder (`mlflow/mlflow.db`, artifacts in `mlflow/artifacts`):
MLflow 3 keeps its plain-file store in maintenance mode. Any tracking URI works (a team's MLflow server).
Browse with `mlflow ui --backend-store-uri sqlite:///$SCISYNTH_HOME/mlflow/mlflow.db`.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.settings import Settings

log = logging.getLogger(__name__)


def _flat(prefix: str, value: object) -> dict[str, float]:
    """Numeric leaves of a nested report as MLflow metric names ("hybrid.ndcg@10" -> "hybrid.ndcg_10")."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(f"{prefix}.{key}" if prefix else str(key),
                                                                        item).items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {prefix.replace("@", "_"): float(value)}
    return {}


@contextmanager
def tracked(settings: Settings, experiment: str, run_name: str, always: bool = False) -> Iterator[Any]:
    """An MLflow run (the `mlflow` module, to log with) or None when tracking is off or MLflow is not installed."""
    if importlib.util.find_spec("mlflow") is None or not (always or settings.tracking.mlflow_tracking_uri):
        yield None
        return
    import mlflow

    folder = settings.storage.home_dir / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking.mlflow_tracking_uri or f"sqlite:///{folder / 'mlflow.db'}")
    if mlflow.get_experiment_by_name(experiment) is None:  # a tracking server keeps its own artifact store
        local = {} if settings.tracking.mlflow_tracking_uri else {
            "artifact_location": (folder / "artifacts").resolve().as_uri()}
        mlflow.create_experiment(experiment, **local)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        log.info("MLflow run %s in experiment %s", run.info.run_id, experiment)
        yield mlflow


def log_report(mlflow: Any, parameters: dict, metrics: dict, artifact: Path | None = None) -> None:
    """Parameters as given, every numeric leaf of `metrics`, and a file or folder as the run's artifact."""
    mlflow.log_params({k: str(v)[:500] for k, v in _flat_params(parameters).items()})
    mlflow.log_metrics(_flat("", metrics))
    if artifact is not None:
        (mlflow.log_artifacts if artifact.is_dir() else mlflow.log_artifact)(str(artifact))


def _flat_params(value: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(_flat_params(item, name) if isinstance(item, dict) else {name: item})
    return flat
