"""The operator command finds the deployment from the stacks' outputs, with the real terraform,
and names what is missing in one line."""

import json
import subprocess

import pytest

from constructs_lib.operate import deployment as dep
from constructs_lib.operate.cli import main
from tests.operate.conftest import applied_stacks

pytestmark = pytest.mark.terraform

EXAMPLE = dep.Deployment(region="eu-west-1", cluster_name="c", service_name="s", queue_url="https://q", dlq_url="https://d",
                         input_bucket="in", input_prefix="incoming/", output_bucket="out", output_prefix="results/",
                         log_group="/ecs/x", file_system_id="fs-1")


def test_the_outputs_of_both_stacks_make_the_deployment(tmp_path, terraform_env, monkeypatch):
    stacks = applied_stacks(tmp_path, EXAMPLE, terraform_env)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env["TF_CLI_CONFIG_FILE"])
    assert dep.load(stacks) == EXAMPLE
    assert EXAMPLE.scaling_resource_id == "service/c/s"


def test_init_runs_when_the_stack_was_never_initialized(tmp_path, terraform_env, monkeypatch):
    """An operator on another machine has the synthesized stacks and the state, not .terraform."""
    stacks = applied_stacks(tmp_path, EXAMPLE, terraform_env)
    subprocess.run(["rm", "-rf", str(stacks / "service" / ".terraform")], check=True)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env["TF_CLI_CONFIG_FILE"])
    assert dep.read_outputs(stacks / "service")["queue_url"] == "https://q"


def test_a_stack_deployed_before_this_version_names_the_missing_output(tmp_path, terraform_env, monkeypatch):
    stacks = applied_stacks(tmp_path, EXAMPLE, terraform_env)
    doc = json.loads((stacks / "service" / "cdk.tf.json").read_text())
    del doc["output"]["output_prefix"]
    (stacks / "service" / "cdk.tf.json").write_text(json.dumps(doc))
    subprocess.run(["terraform", "apply", "-auto-approve", "-input=false"], cwd=stacks / "service", env=terraform_env,
                   check=True, capture_output=True)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env["TF_CLI_CONFIG_FILE"])
    with pytest.raises(dep.OperatorError, match="the service stack has no output 'output_prefix'"):
        dep.load(stacks)


def test_a_stack_never_deployed_has_no_outputs(tmp_path, terraform_env, monkeypatch):
    path = tmp_path / "service"
    path.mkdir()
    (path / "cdk.tf.json").write_text(json.dumps({"output": {"x": {"value": "y"}}}))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env["TF_CLI_CONFIG_FILE"])
    with pytest.raises(dep.OperatorError, match="the service stack has no outputs: is it deployed"):
        dep.read_outputs(path)


@pytest.mark.parametrize("argv, message", [
    (["status"], "no synthesized stack here; run `make synth` first"),
    (["submit", "a.pdf", "b.pdf", "--key", "incoming/a.pdf"], "--key names one input key"),
    (["redrive", "--max", "0"], "--max must be at least 1"),
    (["submit", "a.pdf", "--wait", "--timeout", "0"], "--timeout must be more than 0 seconds"),
])
def test_usage_mistakes_exit_2_with_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PADDLEOCR_EFS_STACKS", raising=False)
    assert main(argv) == dep.USAGE
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_terraform_missing_is_a_setup_mistake(tmp_path, capsys, monkeypatch):
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "cdk.tf.json").write_text("{}")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--stacks", str(tmp_path), "status"]) == dep.USAGE
    assert "terraform is not on PATH" in capsys.readouterr().err
