"""Optical character recognition of page images, with the models RapidOCR ships.

The ``rapidocr`` wheel carries PP-OCR's detection and recognition models as ONNX
files, run by onnxruntime on the CPU. The engine is pointed at those files explicitly:
left to itself it would look for them under a folder of its own and fetch what is
missing from a model hub, which must never happen here. It is built once per process,
on first use (importing it costs most of a second, so start-up never pays for it),
and is safe to call from several worker threads at once.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from knowledge.errors import OcrUnavailable

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger("chorus.ocr")

#: the model files inside the rapidocr package (PP-OCRv6 small: Chinese, Japanese,
#: Latin scripts; the text-direction classifier is not needed for upright scans)
DETECTION_MODEL = "PP-OCRv6_det_small.onnx"
RECOGNITION_MODEL = "PP-OCRv6_rec_small.onnx"
CLASSIFIER_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
#: the longest side a page image is scaled to before detection; small print on a full
#: page stays legible at this size (RapidOCR's own default, 2000, loses some of it)
MAX_SIDE = 2400
#: detection runs on the page scaled to at most this many pixels on its longest side:
#: boxes are found as well as at full size, in half the time (recognition still reads
#: each box at full resolution)
DETECTION_SIDE = 1600
#: recognised text below this confidence is dropped as noise (speckles, stamps)
MIN_SCORE = 0.5
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class OcrBox:
    """A piece of text found on an image, with its upright bounding box in pixels."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    score: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


class _Engine(Protocol):
    def __call__(self, image: Image, /) -> Any: ...


def recognise(image: Image) -> list[OcrBox]:
    """The text boxes RapidOCR finds on an RGB image, in no particular order."""
    result = engine()(image)
    if result.boxes is None or not result.txts:
        return []
    found: list[OcrBox] = []
    for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
        text = str(text).strip()
        if not text or float(score) < MIN_SCORE:
            continue
        xs = [float(point[0]) for point in quad]
        ys = [float(point[1]) for point in quad]
        found.append(OcrBox(text, min(xs), min(ys), max(xs), max(ys), float(score)))
    return found


def engine() -> _Engine:
    """The process's OCR engine, built on first use from the packaged model files."""
    with _BUILD_LOCK:
        return _build()


@functools.cache
def _build() -> _Engine:
    try:
        import rapidocr
        from rapidocr import RapidOCR
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise OcrUnavailable(f"the OCR package is not installed ({exc})") from exc
    models = Path(rapidocr.__file__).parent / "models"
    paths = {
        "Det.model_path": models / DETECTION_MODEL,
        "Rec.model_path": models / RECOGNITION_MODEL,
        "Cls.model_path": models / CLASSIFIER_MODEL,
    }
    missing = [path.name for path in paths.values() if not path.is_file()]
    if missing:
        raise OcrUnavailable(f"the OCR model files are missing ({', '.join(missing)})")
    params: dict[str, object] = {key: str(path) for key, path in paths.items()}
    params.update(
        {
            "Global.log_level": "error",  # its "nothing found" warnings are ours to tell
            "Global.use_cls": False,
            "Global.max_side_len": MAX_SIDE,
            "Global.text_score": MIN_SCORE,
            "Det.limit_type": "max",
            "Det.limit_side_len": DETECTION_SIDE,
        }
    )
    log.info("loading the OCR models from %s", models)
    built: _Engine = RapidOCR(params=params)
    return built
