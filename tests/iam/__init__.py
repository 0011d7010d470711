"""The contract between the worker's AWS calls and the grants the stacks synthesize, judged by
AWS's rules rather than moto's.

- :mod:`tests.iam.render`: every policy of a synthesized stack as the IAM JSON Terraform would
  send, with the references filled in for one concrete deployment.
- :mod:`tests.iam.evaluate`: IAM policy evaluation (explicit Deny wins, conditions honoured).
- :mod:`tests.iam.calls`: recorded SDK calls, and the calls the ECS agent makes for the task,
  mapped to the IAM actions and resources AWS authorizes them with.
- :mod:`tests.iam.moto`: a moto server with IAM enforced, and the task role created in it from
  the synthesized JSON.
- ``recorder/sitecustomize.py``: records every botocore call of a worker process under test.
"""
