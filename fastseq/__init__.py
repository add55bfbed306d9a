"""fastseq: fast K-means and fused recurrent layers, CUDA kernels with Numba CPU fallbacks.

The public API is listed in ``__all__``. Names are resolved on first use, so ``import fastseq``
stays fast and imports neither Numba nor CuPy.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "pairwise_sqdist": "fastseq.cluster",
    "nearest_centers": "fastseq.cluster",
    "KMeans": "fastseq.cluster",
    "kmeans_plusplus": "fastseq.cluster",
    "k_means": "fastseq.cluster",
    "MiniBatchKMeans": "fastseq.cluster",
    "silhouette_score": "fastseq.cluster",
    "silhouette_samples": "fastseq.cluster",
    "select_k": "fastseq.cluster",
    "SelectKResult": "fastseq.cluster",
    "gpu_status": "fastseq._backend",
    "LSTM": "fastseq.rnn",
    "GRU": "fastseq.rnn",
    "RNN": "fastseq.rnn",
    "LSTMCell": "fastseq.rnn",
    "GRUCell": "fastseq.rnn",
    "RNNCell": "fastseq.rnn",
    "Conv1d": "fastseq.conv",
    "TCN": "fastseq.conv",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'fastseq' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
