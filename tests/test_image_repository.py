"""ImageRepository: the ECR repository and the hook that builds and pushes image/."""

import json
import shutil
from pathlib import Path

import pytest

from constructs_lib.framework import aws
from constructs_lib.image_repository import ImageRepository, ImageRepositoryProps, content_hash
from constructs_lib.validation import ConfigError
from tests.synth import (
    assert_refused,
    load_stack,
    new_stack,
    one,
    ref,
    resources,
    role_policies,
    settings,
    synth_app,
    synth_stack,
)

ROOT = Path(__file__).resolve().parent.parent


def test_ecr_repository_is_immutable_scanned_encrypted_and_pruned(service_doc):
    repo = one(resources(service_doc, "aws_ecr_repository"))
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["encryption_configuration"] == [{"encryption_type": "KMS"}]
    rule = json.loads(one(resources(service_doc, "aws_ecr_lifecycle_policy"))["policy"])["rules"][0]
    assert rule["selection"]["countNumber"] == 10 and rule["action"] == {"type": "expire"}


def test_build_hook_runs_the_image_script_tagged_with_the_content_hash(service_doc, containers):
    hook = one(resources(service_doc, "terraform_data"))
    tag = hook["triggers_replace"]["image_hash"]
    [exec_] = hook["provisioner"]
    assert exec_["local-exec"]["command"] == "./build_and_push.sh"
    # The build context is the image_dir given to the stack, copied into the stack as an asset.
    assert exec_["local-exec"]["working_dir"] == f"assets/image_context_5EEBCE54/{tag}"
    assert hook["triggers_replace"]["repository"].startswith("${aws_ecr_repository.")  # a rename re-runs it
    assert exec_["local-exec"]["environment"]["CONTAINER_CLI"] == "docker"
    assert containers["ocr-worker"]["image"].endswith(f":{tag}")
    [dependency] = one(resources(service_doc, "aws_ecs_task_definition"))["depends_on"]
    assert dependency.startswith("terraform_data.image_build_")  # pushed before the task is registered


def test_image_uri_option_skips_the_hook(tmp_path):
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ocr:ci-42"
    doc = load_stack(synth_app(tmp_path, settings(image={"build": False, "image_uri": uri})), "service")
    assert resources(doc, "terraform_data") == []
    task = one(resources(doc, "aws_ecs_task_definition"))
    assert {c["image"] for c in json.loads(task["container_definitions"])} == {uri}


def test_podman_is_selectable(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(image={"container_cli": "podman"})), "service")
    assert one(resources(doc, "terraform_data"))["provisioner"][0]["local-exec"]["environment"]["CONTAINER_CLI"] == "podman"


def test_hook_trigger_changes_if_and_only_if_a_file_in_image_changes(tmp_path):
    context = tmp_path / "image"
    shutil.copytree(Path(__file__).resolve().parent.parent / "image", context,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    original = content_hash(context)
    (context / "ocr_worker" / "__pycache__").mkdir(exist_ok=True)
    (context / "ocr_worker" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"cache")
    (context / ".pytest_cache").mkdir()
    (context / "Dockerfile").touch()  # a new mtime is not a change
    assert content_hash(context) == original
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "\n# changed\n")
    changed = content_hash(context)
    assert changed != original
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text().removesuffix("\n# changed\n"))
    assert content_hash(context) == original
    (context / "requirements.txt").rename(context / "requirements2.txt")
    assert content_hash(context) != original


def test_ecr_repository_can_be_destroyed_with_its_images(service_doc):
    assert one(resources(service_doc, "aws_ecr_repository"))["force_delete"] is True


def pull_grant(tmp_path, **props) -> tuple[dict, dict | None]:
    stack = new_stack()
    image = ImageRepository(stack, "image", ImageRepositoryProps(**props), project="teamb", region="us-east-1",
                            context_dir=tmp_path)
    role = aws.iam_role.IamRole(stack, "role", name="r", assume_role_policy="{}")
    image.grant_pull(role)
    doc = synth_stack(stack)
    return doc, role_policies(doc, "role").get("pull-image")


def test_repository_name_derives_from_the_project_and_a_built_image_is_pulled_from_it_only(tmp_path):
    (tmp_path / "build_and_push.sh").touch()
    doc, (pull, token) = pull_grant(tmp_path)
    assert one(resources(doc, "aws_ecr_repository"))["name"] == "teamb-processor"
    assert pull[2] == [ref(doc, "aws_ecr_repository", "arn")] and token[2] == ["*"]


@pytest.mark.parametrize("uri,repository", [
    ("210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/ocr-worker:1.4",
     "arn:aws:ecr:eu-west-1:210987654321:repository/team/ocr-worker"),
    ("210987654321.dkr.ecr.eu-west-1.amazonaws.com/ocr@sha256:" + "a" * 64,
     "arn:aws:ecr:eu-west-1:210987654321:repository/ocr"),
    ("210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com/ocr:1", "arn:aws-us-gov:ecr:us-gov-west-1:210987654321:repository/ocr"),
    ("210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/ocr:1", "arn:aws-cn:ecr:cn-north-1:210987654321:repository/ocr"),
], ids=["other account and region", "digest", "govcloud fips", "china"])
def test_an_external_ecr_image_is_pulled_from_the_repository_its_uri_names(tmp_path, uri, repository):
    # Before: the grant named the project's own repository, and such a task failed with
    # CannotPullContainerError.
    _, (pull, token) = pull_grant(tmp_path, build=False, image_uri=uri)
    assert pull[2] == [repository] and token[2] == ["*"]


@pytest.mark.parametrize("uri", ["public.ecr.aws/x/y:1", "docker.io/library/python:3.11", "127.0.0.1:5000/ocr:e2e"])
def test_an_image_outside_private_ecr_gets_no_pull_grant(tmp_path, uri):
    assert pull_grant(tmp_path, build=False, image_uri=uri)[1] is None


@pytest.mark.parametrize("props,message", [
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
    (dict(repository_name="Sabuho/Processor"), "repository_name: 'Sabuho/Processor' is not valid"),
    (dict(repository_name="a"), "repository_name: 'a' must be 2-256 characters"),
    (dict(repository_name="ocr--worker-"), "repository_name: 'ocr--worker-' is not valid"),
    (dict(build=False), "image_uri: required when build is false"),
    (dict(keep_images=0), "keep_images: must be between 1 and 10000"),
], ids=["upper case", "too short", "trailing separator", "no image", "keep none"])
def test_props_refuse_what_ecr_refuses(props, message):
    assert_refused(ImageRepositoryProps, props, message)


def test_the_tag_hashes_what_the_build_sends_as_dockerignore_says(tmp_path):
    """A stray .DS_Store or log changed the tag (and rebuilt the image) though the build never
    sends it; a file the build does send changes it."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("# junk\n.DS_Store\n**/*.log\n!keep.log\nlogs/\n")
    before = content_hash(tmp_path)
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "debug.log").write_text("x")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.txt").write_text("x")
    assert content_hash(tmp_path) == before
    (tmp_path / "keep.log").write_text("sent")  # included again by !keep.log
    assert content_hash(tmp_path) != before


def test_the_image_folder_ignores_finder_files():
    from constructs_lib.image_repository import dockerignore

    assert dockerignore(ROOT / "image")(".DS_Store") and not dockerignore(ROOT / "image")("Dockerfile")


def test_no_build_context_is_needed_when_the_image_is_given_and_one_is_when_it_is_built():
    stack = new_stack()
    image = ImageRepository(stack, "given", ImageRepositoryProps(build=False, image_uri="public.ecr.aws/x/y:1"),
                            project="teamb", region="us-east-1")
    assert image.image_uri == "public.ecr.aws/x/y:1"
    with pytest.raises(ConfigError, match="ImageRepository.context_dir: required when build is on"):
        ImageRepository(stack, "built", ImageRepositoryProps(), project="teamb", region="us-east-1")


@pytest.mark.parametrize("uri, region", [
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/teamb-processor:abc", "eu-west-1"),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/teamb-processor:abc", "cn-north-1"),
])
def test_build_and_push_takes_the_region_from_an_ecr_uri(tmp_path, uri, region):
    """Without AWS_REGION the script exited 1, and the README's CI line did not set it. A stub
    `aws` answers that the tag exists, so nothing is built; it records the region it was given."""
    import os
    import subprocess

    stub = tmp_path / "aws"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\nexit 0\n')
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "IMAGE_URI": uri}
    result = subprocess.run([str(ROOT / "image" / "build_and_push.sh")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "already in the repository" in result.stdout, result.stderr
    assert f"--region {region}" in (tmp_path / "calls").read_text()


def test_build_and_push_without_a_region_names_what_is_missing(tmp_path):
    import subprocess

    result = subprocess.run([str(ROOT / "image" / "build_and_push.sh")], env={"PATH": "/usr/bin:/bin",
                            "IMAGE_URI": "registry.example.com/x:1"}, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "AWS_REGION is required for the ECR login" in result.stderr
