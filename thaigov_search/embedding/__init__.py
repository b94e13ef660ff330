"""The embedding model, shared by the indexer and the searcher.

``embedder`` wraps one loaded model (torch, ONNX or ONNX int8); ``default_model`` rebuilds the
embedded multilingual-e5-small offline; ``onnx`` exports and runs the ONNX variants.
Imports only ``thaigov_search.core``.
"""
