"""Export stage: ONNX conversion, graph fusion, int8/fp16 variants, parity report (needs the export extra)."""
