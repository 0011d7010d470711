"""A moto server with IAM enforced, and the synthesized task role created in it.

moto checks no permission until ``INITIAL_NO_AUTH_ACTION_COUNT`` requests have been made; its
``/moto-api/reset-auth`` sets that count at run time. :class:`IamMoto` creates an administrator
first, for the test's own calls, then enforces IAM: from then on every request must be signed by
a known identity and is checked against that identity's policies. A worker run with
:meth:`IamMoto.assume` credentials has exactly the task role's rights, as on ECS.

moto only evaluates identity policies here (the worker tests create no bucket or queue policies:
their TLS-only Deny needs the real TLS of tests/e2e/moto_launcher.py), and it does not apply S3's
403-instead-of-404 rule: tests/worker/test_call_inventory.py checks both.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Optional

import boto3

from tests.iam.render import Deployment

ADMIN = "test-administrator"


class IamMoto:
    def __init__(self, endpoint: str, verify: Optional[str] = None) -> None:
        self.endpoint, self.verify = endpoint, verify
        root = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        iam = self._client("iam", root)
        iam.create_user(UserName=ADMIN)
        iam.put_user_policy(UserName=ADMIN, PolicyName="everything", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
        self.admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def enforce(self, on: bool = True) -> None:
        """Check every request from now on (or stop checking)."""
        # Plain text: a form-encoded body would be parsed away before moto reads it.
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", method="POST",
                                         data=b"0" if on else b"inf", headers={"Content-Type": "text/plain"})
        context = None
        if self.verify:
            import ssl

            context = ssl.create_default_context(cafile=self.verify)
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            assert json.load(response)["status"] == "ok"

    def _client(self, service: str, credentials: dict):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", verify=self.verify,
                            **credentials)

    def client(self, service: str):
        """A client with the administrator's rights, for the test's own setup and checks."""
        return self._client(service, self.admin)

    def create_role(self, deployment: Deployment, role_path: str, name: str) -> str:
        """The role at ``role_path`` (``roles/task-role``) of the synthesized stack, with its
        inline policies rendered for ``deployment``; returns its ARN.

        Its trust policy is not the synthesized one: moto enforces trust policies too, and only
        ECS can assume a role that trusts ``ecs-tasks.amazonaws.com``. The test administrator
        stands in for ECS here; tests/test_iam.py checks the real trust policy."""
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(self.admin_trust()))["Role"]["Arn"]
        for policy_name, document in deployment.role_policies(role_path).items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
        return arn

    def admin_trust(self) -> dict:
        """A trust policy that lets the test administrator assume the role, standing in for ECS."""
        admin = self.client("iam").get_user(UserName=ADMIN)["User"]["Arn"]
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "sts:AssumeRole"}]}

    def assume(self, role_arn: str) -> dict:
        """Environment variables with the role's temporary credentials, as ECS hands a task."""
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="ocr-task")["Credentials"]
        return {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                "AWS_SESSION_TOKEN": credentials["SessionToken"]}
