"""The deployed service's names, read from the stacks' Terraform outputs.

``terraform output -json`` runs in each synthesized stack's folder (``cdktf.out/stacks/<stack>``),
so the outputs come from whatever backend holds the state: local files, S3 or Terraform Cloud.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional


class OperatorError(Exception):
    """A one-line error for the user, with the exit code it ends the command with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


#: Exit codes: 2 a usage or setup mistake, 3 the document was refused (an error result), 4 no
#: result yet (``result``) or none in time (``submit --wait``); 1 anything else.
USAGE, REFUSED, NOT_YET = 2, 3, 4


@dataclass(frozen=True)
class Deployment:
    """What the operator command needs, by the name of the output that holds it."""

    region: str
    cluster_name: str
    service_name: str
    queue_url: str
    dlq_url: str
    input_bucket: str
    input_prefix: str
    output_bucket: str
    output_prefix: str
    log_group: str
    file_system_id: str

    @property
    def scaling_resource_id(self) -> str:
        """The service's scalable target (Application Auto Scaling's ResourceId)."""
        return f"service/{self.cluster_name}/{self.service_name}"


#: The stack that outputs each field.
_STACK_OF = {"file_system_id": "model-cache"}


def load(stacks_dir: Path, terraform: Optional[str] = None) -> Deployment:
    """Read the outputs of the ``service`` and ``model-cache`` stacks under ``stacks_dir``."""
    outputs = {stack: read_outputs(Path(stacks_dir) / stack, terraform) for stack in ("service", "model-cache")}
    values = {}
    for f in fields(Deployment):
        stack = _STACK_OF.get(f.name, "service")
        if f.name not in outputs[stack]:
            raise OperatorError(f"the {stack} stack has no output {f.name!r}: deploy it with this version "
                                "(npx cdktf deploy service --ignore-missing-stack-dependencies)")
        values[f.name] = outputs[stack][f.name]
    return Deployment(**values)


def read_outputs(stack_dir: Path, terraform: Optional[str] = None) -> dict[str, str]:
    """``terraform output -json`` in ``stack_dir``, after ``terraform init`` the first time."""
    if not (stack_dir / "cdk.tf.json").is_file():
        raise OperatorError(f"{stack_dir}: no synthesized stack here; run `make synth` first, or pass --stacks "
                            "with the cdktf.out/stacks folder of the deployment", USAGE)
    binary = terraform or shutil.which("terraform")
    if binary is None:
        raise OperatorError("terraform is not on PATH; the operator command reads the stacks' outputs with it", USAGE)
    if not (stack_dir / ".terraform").is_dir():
        _terraform([binary, "init", "-input=false", "-no-color"], stack_dir)
    raw = json.loads(_terraform([binary, "output", "-json", "-no-color"], stack_dir) or "{}")
    if not raw:
        raise OperatorError(f"the {stack_dir.name} stack has no outputs: is it deployed? "
                            f"(npx cdktf deploy {stack_dir.name} --ignore-missing-stack-dependencies)")
    return {name: output["value"] for name, output in raw.items()}


def _terraform(command: list[str], cwd: Path) -> str:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise OperatorError(f"{' '.join(command[1:3])} in {cwd} did not finish in 10 minutes") from None
    if result.returncode != 0:
        lines = [line.strip(" │╷╵") for line in result.stderr.splitlines()]
        error = next((line for line in lines if line.startswith("Error:")), lines[-1] if lines else "no output")
        raise OperatorError(f"terraform {command[1]} in {cwd} failed: {error}")
    return result.stdout
