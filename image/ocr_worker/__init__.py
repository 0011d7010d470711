"""PaddleOCR document worker with a concurrency-safe shared model cache."""
