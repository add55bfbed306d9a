"""The peers that ``fastseq demo`` and ``fastseq compare`` time fastseq against: scikit-learn and
torch when they are installed, and where the torch peer runs."""

from __future__ import annotations


def optional_import(name):
    """The module ``name``, or None when it is not installed."""
    try:
        return __import__(name)
    except ImportError:
        return None


def torch_peer_device(torch, device: str) -> str:
    """Where the torch peer runs: ``"cuda"`` when fastseq runs on CUDA and torch has CUDA, else
    ``"cpu"``. On CUDA, TF32 is switched off so that torch computes in float32 like fastseq."""
    if device == "cuda" and torch is not None and torch.cuda.is_available():
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        return "cuda"
    return "cpu"
