"""Run the synthesized ECS task definition on this machine, the way Fargate runs it.

The task definition in ``cdktf.out/stacks/service/cdk.tf.json`` is the contract; this runs that
JSON, not a copy of it, with podman or docker::

    python -m fargate_local --image IMAGE --env OCR_QUEUE_URL=... --efs-root ./efs

What it reproduces, each from the ECS developer guide:

- ``user``, ``environment``, ``command``, ``entryPoint``, ``workingDirectory``;
  ``readonlyRootFilesystem`` as ``--read-only`` with nothing writable added (podman would mount
  tmpfs on /tmp by default; Fargate does not); ``linuxParameters.initProcessEnabled`` as ``--init``.
- ``dependsOn`` with START, COMPLETE, SUCCESS and HEALTHY. A condition that can no longer be met
  (SUCCESS after a non-zero exit, HEALTHY after UNHEALTHY or an exit) stops the task.
- ``essential``: when an essential container exits, or (as a service task) turns UNHEALTHY, the
  task stops. The image's own HEALTHCHECK is ignored, as ECS ignores it: only the task
  definition's ``healthCheck`` runs, with its interval, timeout, retries and start period.
- Stopping: SIGTERM to each running container, dependents before what they depend on, then
  SIGKILL when its ``stopTimeout`` (Fargate default 30 s) runs out.
- Bind-mount volumes (a volume with no host and no EFS configuration): a fresh directory owned
  by root:root, mode 0755, unless the image declares ``VOLUME`` at the mount's containerPath,
  in which case the image's directory, with its content, owner and mode, is copied in
  ("Use bind mounts with Amazon ECS"; aws/containers-roadmap#938).
- EFS volumes: a host directory stands in for the file system. With an access point, its root
  directory is created with the access point's ``creation_info`` owner and mode (read from the
  model-cache stack), and only that directory is mounted; ``readOnly`` mount points are ``:ro``.

What it cannot reproduce: IAM authorization and TLS to EFS (``authorizationConfig``,
``transitEncryption``), the access point's enforced POSIX user on files written through it, awsvpc
networking and security groups (all containers share the host network, as a task's containers
share one network namespace), the task and execution roles (pass credentials with ``--env``),
log drivers (``<cli> logs`` keeps each container's output), cpu and memory limits, and the ECS
agent endpoints.

The package sits beside ``constructs_lib/`` rather than in it: it is this repository's test and
operator tool for the JSON the library synthesizes, imports nothing from the library, and is not
in the library's wheel (``pyproject.toml`` ships ``constructs_lib`` only). One module per concern:
``taskdef`` (the reader), ``rules`` (pure functions of container states), ``volumes``, ``engine``
(the container CLI) and ``supervisor``; ``__main__`` is the command line.
"""

from .rules import ContainerState
from .supervisor import LocalTask
from .taskdef import AccessPoint, TaskDefinition, TaskError

__all__ = ["AccessPoint", "ContainerState", "LocalTask", "TaskDefinition", "TaskError"]
