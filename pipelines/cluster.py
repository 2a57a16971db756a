"""Submit or schedule a pipeline on a KFP API server (``kfp.Client``)."""

import contextlib
import datetime as dt
import sys
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import kfp
from kfp_server_api.exceptions import ApiException
from urllib3.exceptions import HTTPError

from automl_video_pipelines import PipelineRunError
from automl_video_pipelines.compiling import compiled_package
from automl_video_pipelines.settings import ClusterSettings


@dataclass
class ClusterTarget:
    """Which KFP API server to talk to and how runs execute there."""

    host: str
    namespace: str | None = None
    experiment: str = "automl-video"
    service_account: str = ""
    pipeline_root: str = ""
    token: str = ""

    def client(self) -> kfp.Client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2.0.0-beta.2 and later"
            return kfp.Client(host=self.host, namespace=self.namespace or "kubeflow", existing_token=self.token or None)


@dataclass
class SubmitResult:
    run_id: str
    experiment_id: str
    run_url: str


@dataclass
class ScheduleResult:
    recurring_run_id: str
    pipeline_id: str
    pipeline_version_id: str
    experiment_id: str
    cron: str


def submit(
    target: ClusterTarget,
    pipeline: str,
    parameters: dict[str, Any],
    run_name: str = "",
    settings: ClusterSettings | None = None,
) -> SubmitResult:
    """Start one run of a pipeline on a KFP cluster.

    Returns:
        The run and experiment IDs and the run's page in the KFP UI.
    """
    with compiled_package(pipeline, settings) as package, _kfp_api(target.host):
        client = target.client()
        run = client.create_run_from_pipeline_package(
            package,
            arguments=parameters,
            run_name=run_name or f"automl-video {pipeline} {dt.datetime.now():%Y-%m-%d %H:%M:%S}",
            experiment_name=target.experiment,
            namespace=target.namespace,
            pipeline_root=target.pipeline_root or None,
            service_account=target.service_account or None,
        )
        experiment_id = run.run_info.experiment_id
    return SubmitResult(run.run_id, experiment_id, f"{target.host.rstrip('/')}/#/runs/details/{run.run_id}")


def schedule(
    target: ClusterTarget,
    pipeline: str,
    parameters: dict[str, Any],
    cron: str,
    name: str = "",
    settings: ClusterSettings | None = None,
) -> ScheduleResult:
    """Upload the pipeline as a new version of ``automl-video-<pipeline>`` and run it on ``cron``.

    Each scheduled run imports whatever its sources match at that time
    (:func:`automl_video.data.sources.expand_sources`).
    Runs never overlap (max concurrency 1) and missed slots are not backfilled.

    Args:
        cron: six fields, seconds first (``0 0 2 * * *`` = every day at 02:00).

    Returns:
        The recurring run, the pipeline version it runs and its experiment.
    """
    if len(cron.split()) != 6:
        raise ValueError(
            f"cron {cron!r} must have 6 fields (seconds minutes hours day month weekday), e.g. '0 0 2 * * *'"
        )
    pipeline_name = f"automl-video-{pipeline}"
    with compiled_package(pipeline, settings) as package, _kfp_api(target.host):
        client = target.client()
        experiment_id = client.create_experiment(target.experiment, namespace=target.namespace).experiment_id
        pipeline_id, version_id = _upload_version(client, package, pipeline_name, target.namespace)
        recurring = client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=name or f"{pipeline_name} ({cron})",
            description=f"automl-video {pipeline} pipeline on cron '{cron}'",
            cron_expression=cron,
            max_concurrency=1,
            no_catchup=True,
            params=parameters,
            pipeline_id=pipeline_id,
            version_id=version_id,
            pipeline_root=target.pipeline_root or None,
            service_account=target.service_account or None,
        )
    return ScheduleResult(recurring.recurring_run_id, pipeline_id, version_id, experiment_id, cron)


def _upload_version(client, package: str, pipeline_name: str, namespace: str | None) -> tuple[str, str]:
    """Upload ``package`` as a new version of the named pipeline (created when absent)."""
    version_name = f"{pipeline_name}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(package, pipeline_name=pipeline_name, namespace=namespace).pipeline_id
        versions = client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc").pipeline_versions
        return pipeline_id, versions[0].pipeline_version_id
    version = client.upload_pipeline_version(package, pipeline_version_name=version_name, pipeline_id=pipeline_id)
    return pipeline_id, version.pipeline_version_id


@contextlib.contextmanager
def _kfp_api(host: str):
    """Around kfp.Client calls: its prints go to stderr, its failures become one line naming the server."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except ApiException as e:
        body = (e.body or "").strip() if isinstance(e.body, str) else e.body
        raise PipelineRunError(f"{host}: KFP API answered {e.status} {e.reason}: {body}") from None
    except HTTPError as e:
        raise PipelineRunError(f"{host}: cannot reach the KFP API server: {e}") from None
