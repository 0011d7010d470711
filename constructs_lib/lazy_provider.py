"""Import cdktf's AWS provider bindings lazily, so a synth does not pay ~20 s for 2,212 modules.

``cdktf_cdktf_provider_aws/__init__.py`` eagerly imports every resource module. We register the
package in ``sys.modules`` first, as a module with the real ``__path__`` whose module-level
``__getattr__`` (PEP 562) imports a submodule on first use. Submodules import the package's
``_jsii`` assembly loader themselves, so nothing else changes for them.

jsii's runtime resolves a type the JavaScript side returns by its fully qualified name; for a type
whose module was never imported it looks the FQN up in ``_submodule_fqn_map``. The prebuilt
bindings predate that map, so we fill it in from the module names.

Safe to call twice, and a no-op when the real package is already imported (eagerly or by us).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types

PACKAGE = "cdktf_cdktf_provider_aws"
ASSEMBLY = "@cdktf/provider-aws"
DISABLE_ENV = "PADDLEOCR_EFS_EAGER_PROVIDER"


def install() -> bool:
    """Install the lazy package. Returns True if it is (now) installed.

    Only cdktf's bindings need it: CDK Terrain's (cdktn_provider_aws) load their submodules lazily
    already, so on cdktn this does nothing and returns False."""
    from constructs_lib import framework

    if framework.NAME != "cdktf":
        return False
    existing = sys.modules.get(PACKAGE)
    if existing is not None:
        return getattr(existing, "__lazy__", False)
    if os.environ.get(DISABLE_ENV):
        return False
    try:
        import jsii._reference_map as refmap
    except ImportError:
        return False
    if not hasattr(refmap, "_submodule_fqn_map"):
        return False  # an older jsii runtime cannot resolve lazily loaded types
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return False

    module = types.ModuleType(PACKAGE, "Lazily loaded cdktf AWS provider bindings.")
    module.__spec__ = spec
    module.__file__ = spec.origin
    module.__path__ = list(spec.submodule_search_locations)
    module.__package__ = PACKAGE
    setattr(module, "__lazy__", True)  # noqa: B010 (a module attribute the checker does not know)
    submodules = _submodule_names(module.__path__)
    setattr(module, "__all__", sorted(submodules))  # noqa: B010

    def __getattr__(name: str):
        if name in submodules:
            return importlib.import_module(f"{PACKAGE}.{name}")  # also sets it as an attribute
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(module.__dict__) | submodules)

    setattr(module, "__getattr__", __getattr__)  # noqa: B010 (PEP 562 module hooks)
    setattr(module, "__dir__", __dir__)  # noqa: B010
    sys.modules[PACKAGE] = module
    # Tell jsii which package holds the assembly before anything has loaded it.
    refmap._assembly_to_module.setdefault(ASSEMBLY, PACKAGE)
    refmap._submodule_fqn_map.update(
        {f"{ASSEMBLY}.{_camel(name)}": f"{PACKAGE}.{name}" for name in submodules}
    )
    return True


def _submodule_names(path: list[str]) -> set[str]:
    names = set()
    for folder in path:
        for entry in os.listdir(folder):
            if not entry.startswith("_") and os.path.isfile(os.path.join(folder, entry, "__init__.py")):
                names.add(entry)
    return names


def _camel(snake: str) -> str:
    """``efs_file_system`` -> ``efsFileSystem``: the jsii submodule name pacmak snake-cased."""
    first, *rest = snake.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)
