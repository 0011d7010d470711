"""The ``worker`` section: the worker's own settings that a deployment may tune.

The rules are the worker's (``image/ocr_worker/settings.py``, whose table is the one source of
truth): ``worker_settings.json`` beside this module is that table as data, and
tests/test_worker.py fails when the two differ (``make golden`` writes it again). So a value the
worker would refuse at start is refused at synth, with the same bounds and choices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional, Union

from constructs_lib.validation import Props, check

RULES: dict[str, dict] = json.loads(Path(__file__).with_name("worker_settings.json").read_text())

#: Worker settings another section sets, so the two can never disagree.
OWNED = {"cache_home": "service.cache_mount_path", "model_tier": "models.tier", "model_source": "models.source",
         "model_lock": "models.tier", "backend": "service.backend", "max_pages": "documents.max_pages",
         "max_document_seconds": "documents.max_document_seconds", "max_bytes": "documents.max_bytes",
         "pages_per_part": "documents.pages_per_part", "max_failures": "documents.max_receive_count",
         "output_prefix": "documents.output_prefix"}


@dataclass(frozen=True)
class WorkerProps(Props):
    """Attributes (each unset by default: the worker's own default, shown in parentheses):
        log_level: DEBUG, INFO, WARNING or ERROR (INFO).
        cpu_threads: Inference threads; 0 is one per CPU the task has (0).
        pdf_dpi: The resolution PDF pages are rendered at, 72 to 600 (200).
        downscale_pixels: Larger pages are downscaled to this many pixels before OCR.
        retry_delay: Seconds before a failed document is tried again (30).
        wait_seconds: SQS long-poll seconds, 0 to 20 (20).
        lock_timeout: Seconds the warm-up waits for another task's warm-up (900).
        heartbeat_max_age: Seconds after which the health check fails (the worker's default).
    """

    log_level: Optional[str] = None
    cpu_threads: Optional[int] = None
    pdf_dpi: Optional[int] = None
    downscale_pixels: Optional[int] = None
    retry_delay: Optional[int] = None
    wait_seconds: Optional[int] = None
    lock_timeout: Optional[int] = None
    heartbeat_max_age: Optional[int] = None

    def validate(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                problem = problem_with(RULES[f.name], value)
                check(problem is None, f.name, str(problem))

    def environment(self) -> dict[str, str]:
        """The variables that set the worker's settings, for the set ones."""
        return {RULES[f.name]["env"]: str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) is not None}


def problem_with(rule: dict, value: Union[int, str]) -> Optional[str]:
    """What ``ocr_worker.settings.Setting.read`` would say of ``value``, or None."""
    if rule["integer"]:
        if rule["minimum"] is not None and int(value) < rule["minimum"]:
            return f"{value} must be at least {rule['minimum']}"
        if rule["maximum"] is not None and int(value) > rule["maximum"]:
            return f"{value} must be at most {rule['maximum']}"
        return None
    text = str(value)
    if rule["choices"] and (text.upper() if rule["fold_case"] else text) not in rule["choices"]:
        return f"{text!r} must be one of {' | '.join(rule['choices'])}"
    return None
