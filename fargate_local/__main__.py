"""Run the synthesized ECS task definition on this machine, the way Fargate runs it (``make run-task``)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

from .supervisor import LocalTask
from .taskdef import TaskDefinition, TaskError


def _pairs(values: list[str], flag: str) -> dict:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise TaskError(f"{flag} {value!r}: expected NAME=VALUE")
        out[key] = rest
    return out


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fargate_local",
                                     description=__doc__.split("\n\n")[0],
                                     epilog="Stops on SIGINT/SIGTERM the way ECS stops a task.")
    parser.add_argument("--stacks", default="cdktf.out/stacks", help="synthesized stacks (default: %(default)s)")
    parser.add_argument("--image", help="run this image instead of the synthesized ECR reference")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="add or override a variable in every container (repeatable)")
    parser.add_argument("--efs-root", action="append", default=[], metavar="VOLUME=DIR",
                        help="host directory standing in for an EFS volume (default: .run-task/efs/VOLUME)")
    parser.add_argument("--workdir", default=".run-task", help="bind-mount directories go here (default: %(default)s)")
    parser.add_argument("--cli", default=os.environ.get("CONTAINER_CLI", "podman"), help="podman or docker")
    parser.add_argument("--run-task", action="store_true",
                        help="behave like `aws ecs run-task`: an UNHEALTHY container does not stop the task")
    args = parser.parse_args(argv)
    try:
        task = TaskDefinition.from_stacks(Path(args.stacks))
        if os.geteuid() != 0:
            raise TaskError("bind-mount ownership (root:root) needs root; run with sudo")
        if shutil.which(args.cli) is None:
            raise TaskError(f"{args.cli} is not on PATH (--cli podman|docker)")
        workdir = Path(args.workdir).resolve()
        efs = {name: workdir / "efs" / name for name in task.efs_volumes}
        efs.update({k: Path(v).resolve() for k, v in _pairs(args.efs_root, "--efs-root").items()})
        run = LocalTask(task, workdir, cli=args.cli, image=args.image, env=_pairs(args.env, "--env"),
                        efs_roots=efs, service=not args.run_task)
    except TaskError as error:
        print(f"run-task: {error}", file=sys.stderr)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: threading.Thread(target=run.stop, args=("stop requested",)).start())
    run.start()
    while not run.wait(1):
        pass
    for name in run.states:
        print(f"--- {name} ---\n{run.logs(name)}", end="")
    print(f"run-task: {run.describe()}", file=sys.stderr)
    run.remove()
    essential = [s for s in run.states.values() if s.definition.get("essential", True)]
    return 0 if all(s.exit_code == 0 for s in essential) else 1


if __name__ == "__main__":
    sys.exit(main())
