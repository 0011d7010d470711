#!/usr/bin/env python
"""PaddleOCR on ECS with a shared EFS model cache.

Read top to bottom: config, then the state bucket, then network, then the model cache, then the
service. Each is its own stack; later stacks read earlier ones through remote state.
"""

import sys
from pathlib import Path

try:
    from constructs_lib import lazy_provider

    # Before anything imports the AWS provider bindings: load their modules on first use (~6 s
    # synth instead of ~20 s). Opt-in, so importing constructs_lib alone changes nothing global.
    lazy_provider.install()
except ImportError as error:
    if type(error).__name__ != "FrameworkError":  # neither cdktf nor cdktn, or a bad PADDLEOCR_EFS_FRAMEWORK
        raise
    print(f"paddleocr-efs: {error}", file=sys.stderr)
    sys.exit(2)

from constructs_lib.config import ConfigError, Settings, load_settings  # noqa: E402


def build_app(settings: Settings, outdir: str | None = None):
    from constructs_lib.framework import App
    from constructs_lib.stacks import BootstrapStack, ModelCacheStack, NetworkStack, ServiceStack

    app = App(outdir=outdir) if outdir else App()
    BootstrapStack(app, "bootstrap", settings)
    network = NetworkStack(app, "network", settings)
    model_cache = ModelCacheStack(app, "model-cache", settings, network=network.network)
    ServiceStack(app, "service", settings, network=network.network, model_cache=model_cache,
                 image_dir=Path(__file__).with_name("image"))
    return app


def main() -> int:
    try:
        build_app(load_settings(Path(__file__).with_name("cdktf.json"))).synth()
    except ConfigError as error:
        print(f"paddleocr-efs: config error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
