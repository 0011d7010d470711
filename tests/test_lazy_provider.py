"""The lazy provider loader: transparent to every way of importing the bindings, and to jsii."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cdktf  # CDK Terrain's bindings load lazily on their own (tests/test_framework.py)

ROOT = Path(__file__).resolve().parent.parent


def run(code: str, **env) -> str:
    """Run ``code`` in a fresh interpreter (a fresh jsii kernel); return its stdout."""
    base = {k: v for k, v in os.environ.items() if k != "PADDLEOCR_EFS_EAGER_PROVIDER"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**base, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_import_style_works_and_loads_only_what_is_used():
    out = run("""
import sys
from constructs_lib import lazy_provider; lazy_provider.install()
import cdktf_cdktf_provider_aws as aws
from cdktf_cdktf_provider_aws.efs_file_system import EfsFileSystem
from cdktf_cdktf_provider_aws import provider
assert aws.__lazy__
assert aws.efs_file_system.EfsFileSystem is EfsFileSystem
assert provider.AwsProvider.__module__ == "cdktf_cdktf_provider_aws.provider"
assert aws.vpc.Vpc.__name__ == "Vpc"
assert "vpc" in dir(aws) and "s3_bucket" in aws.__all__
try:
    aws.no_such_resource
except AttributeError as e:
    print("attr-error", e)
loaded = [m for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws.") and m.count(".") == 1]
print(len(loaded))
""")
    lines = out.split("\n")
    assert lines[0].startswith("attr-error") and "no_such_resource" in lines[0]
    assert int(lines[1]) < 10  # of 2,212


def test_resources_synthesize_through_the_lazy_package():
    out = run("""
import json
from constructs_lib import lazy_provider; lazy_provider.install()
from cdktf import App, TerraformStack, Testing
import cdktf_cdktf_provider_aws as aws
stack = TerraformStack(Testing.app(), "s")
aws.provider.AwsProvider(stack, "aws", region="us-east-1")
fs = aws.efs_file_system.EfsFileSystem(stack, "fs", encrypted=True,
    lifecycle_policy=[aws.efs_file_system.EfsFileSystemLifecyclePolicy(transition_to_ia="AFTER_7_DAYS")])
# a value jsii hands back from the JavaScript side, resolved to its Python type
ref = fs.lifecycle_policy.get(0)
print(type(ref).__name__)
print(json.loads(Testing.synth(stack))["resource"]["aws_efs_file_system"]["fs"]["encrypted"])
""")
    assert out.split() == ["EfsFileSystemLifecyclePolicyOutputReference", "True"]


def test_jsii_resolves_a_type_whose_module_was_never_imported():
    out = run("""
import sys
from constructs_lib import lazy_provider; lazy_provider.install()
import jsii._reference_map as refmap
fqn = "@cdktf/provider-aws.s3BucketVersioning.S3BucketVersioningA"
assert "cdktf_cdktf_provider_aws.s3_bucket_versioning" not in sys.modules
assert fqn not in refmap._types
assert refmap._try_import_type_module(fqn)
print(refmap._types[fqn].__module__)
""")
    assert out.strip() == "cdktf_cdktf_provider_aws.s3_bucket_versioning"


def test_fqn_map_covers_every_submodule_of_the_assembly():
    out = run("""
import json, tarfile
from pathlib import Path
from constructs_lib import lazy_provider; lazy_provider.install()
import jsii._reference_map as refmap
import cdktf_cdktf_provider_aws as aws
tgz = next(Path(aws.__path__[0], "_jsii").glob("*.jsii.tgz"))
with tarfile.open(tgz) as archive:
    assembly = json.load(archive.extractfile("package/.jsii"))
ours = {k: v for k, v in refmap._submodule_fqn_map.items() if k.startswith("@cdktf/provider-aws.")}
package_dir = Path(aws.__path__[0])
print(json.dumps({"submodules": len(assembly["submodules"]), "same_keys": set(ours) == set(assembly["submodules"]),
                  "modules_exist": all((package_dir / m.split(".")[1] / "__init__.py").is_file() for m in ours.values())}))
""")
    result = json.loads(out)
    assert result["submodules"] > 2000
    assert result["same_keys"] and result["modules_exist"]


@pytest.mark.slow
def test_importing_the_package_and_its_modules_changes_nothing_global():
    """Only main.py (or a consumer, on purpose) installs the loader; the package itself does not."""
    out = run("""
import os, sys
before = dict(os.environ)
import constructs_lib, constructs_lib.config
import jsii._reference_map as refmap
print(dict(os.environ) == before, getattr(sys.modules["cdktf_cdktf_provider_aws"], "__lazy__", False),
      "@cdktf/provider-aws.vpc" in refmap._submodule_fqn_map)
""")
    assert out.split() == ["True", "False", "False"]


@pytest.mark.slow
def test_does_nothing_when_the_real_package_is_already_imported():
    out = run("""
import cdktf_cdktf_provider_aws as real
from constructs_lib import lazy_provider
import sys
assert sys.modules["cdktf_cdktf_provider_aws"] is real
print(getattr(real, "__lazy__", False), lazy_provider.install())
""")
    assert out.split() == ["False", "False"]


@pytest.mark.slow
def test_synth_is_identical_with_and_without_the_loader(tmp_path):
    outputs = {}
    for mode, env in (("lazy", {}), ("eager", {"PADDLEOCR_EFS_EAGER_PROVIDER": "1"})):
        out = tmp_path / mode
        run(f"import sys; sys.argv=['main.py']; import main; main.build_app(main.load_settings(main.Path('cdktf.json')), {str(out)!r}).synth()\n"
            f"import cdktf_cdktf_provider_aws as a; print(getattr(a, '__lazy__', False))", **env)
        outputs[mode] = {p.parent.name: p.read_text() for p in sorted(out.glob("stacks/*/cdk.tf.json"))}
    assert len(outputs["lazy"]) >= 3
    assert outputs["lazy"] == outputs["eager"]


def test_jsii_runs_on_node_22_and_prints_no_end_of_life_banner(tmp_path):
    # Nothing silences the banner any more: it is gone because Node 22 is supported.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE")}
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, env=env, check=True).stdout
    assert node.startswith("v22."), f"node on PATH is {node.strip()}; run `make setup` (it installs Node 22)"
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "CDKTF_OUTDIR": str(tmp_path)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "end-of-life" not in result.stderr + result.stdout
