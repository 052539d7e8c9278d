"""The CPU/GPU scorer: model bundles, tokenisation, length bucketing, ONNX Runtime sessions,
the streaming file scorer with resume, evaluation, and Ray/Spark adapters.

Imports neither torch nor transformers (a test enforces it).
"""
