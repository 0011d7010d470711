"""ECS task scale-in protection, set from inside the task while it holds a document.

A protected task is not stopped by service scale-in or by a deployment; protection expires by
itself, so a crashed worker never pins a task. Outside ECS (no ``ECS_AGENT_URI``, which ECS sets
and the settings pass in) it does nothing.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html
"""

from __future__ import annotations

import json
import logging
import math
import urllib.request

log = logging.getLogger("ocr_worker.protection")

#: The endpoint's limits on ExpiresInMinutes.
MIN_MINUTES, MAX_MINUTES = 1, 2880


class TaskProtection:
    def __init__(self, agent_uri: str | None, max_document_seconds: int) -> None:
        self.url = f"{agent_uri.rstrip('/')}/task-protection/v1/state" if agent_uri else None
        # Long enough for the slowest allowed document plus its upload, never past the limit.
        self.minutes = min(MAX_MINUTES, max(MIN_MINUTES, math.ceil((max_document_seconds + 120) / 60)))
        self.enabled = False

    def protect(self) -> None:
        self._put({"ProtectionEnabled": True, "ExpiresInMinutes": self.minutes})

    def release(self) -> None:
        if self.enabled:
            self._put({"ProtectionEnabled": False})

    def _put(self, body: dict) -> None:
        if self.url is None:
            return
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                answer = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as error:  # never fail a document over protection
            log.warning("task protection call failed", extra={"fields": {"error": str(error)}})
            return
        if "failure" in answer or "error" in answer:
            log.warning("task protection refused", extra={"fields": {"answer": answer}})
            return
        self.enabled = body["ProtectionEnabled"]
