"""``paddleocr-efs``, the operator command of a deployed service: submit documents and fetch their
results, see the queue, the tasks and the cache, re-drive the dead-letter queue, pause and resume.

It finds the deployment from the stacks' Terraform outputs (:mod:`.deployment`) and talks to AWS
with boto3 (the ``[operate]`` extra). Nothing here imports cdktf: it starts in well under a second.
"""
