"""``fastseq kmeans INPUT -k K``: cluster a .npy or .csv file and save labels and centers.

A .npy file is opened as a memmap, so files larger than memory are read chunk by chunk.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def load_matrix(path: str):
    """A 2-D float array from .npy (memory-mapped) or .csv (a header line is skipped)."""
    if not os.path.exists(path):
        raise ValueError(f"INPUT: no such file: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        try:
            X = np.load(path, mmap_mode="r")
        except Exception as exc:
            raise ValueError(f"INPUT: cannot read {path} as .npy ({exc})") from None
    elif ext in (".csv", ".txt"):
        X = _load_csv(path)
    else:
        raise ValueError(f"INPUT: expected a .npy or .csv file, got {path!r}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"INPUT: expected a 2-D table (rows x features), got shape {X.shape}")
    return X


def _load_csv(path):
    import warnings
    for skip in (0, 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file: reported below, in one line
                X = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=skip)
        except ValueError as exc:
            error = exc
            continue
        except OSError as exc:
            raise ValueError(f"INPUT: cannot read {path} ({exc})") from None
        if X.size == 0:
            raise ValueError(f"INPUT: no numeric rows in {path}")
        return X
    raise ValueError(f"INPUT: cannot parse {path} as numeric CSV ({error})")


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal or when forced."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.start = total, enabled, time.perf_counter()

    def __call__(self, iteration: int, inertia: float) -> None:
        if not self.enabled:
            return
        width = 30
        done = min(width, int(width * iteration / max(1, self.total)))
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] iter {iteration}/{self.total} "
                         f"inertia {inertia:.6g}  {time.perf_counter() - self.start:.1f}s")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")


def run(args) -> int:
    import fastseq
    X = load_matrix(args.input)
    if args.k < 1 or args.k > X.shape[0]:
        raise ValueError(f"-k: expected 1 <= k <= {X.shape[0]} (the number of rows), got {args.k}")
    show = sys.stderr.isatty() or args.progress
    if args.minibatch:
        model = fastseq.MiniBatchKMeans(n_clusters=args.k, n_init=args.n_init,
                                        random_state=args.seed, device=args.device)
        total = model.max_iter
    else:
        model = fastseq.KMeans(n_clusters=args.k, n_init=args.n_init, random_state=args.seed,
                               device=args.device)
        total = model.max_iter
    bar = ProgressBar(total, show)
    model._progress_callback = bar
    start = time.perf_counter()
    try:
        model.fit(X)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    kind = "MiniBatchKMeans" if args.minibatch else "KMeans"
    print(f"{kind}: {X.shape[0]:,} rows x {X.shape[1]} features, k={args.k}, "
          f"device={model.device_ if hasattr(model, 'device_') else args.device}")
    print(f"inertia     {model.inertia_:.6g}")
    print(f"iterations  {model.n_iter_}")
    print(f"time        {elapsed:.3f} s")
    if args.output:
        np.savez(args.output, labels=np.asarray(model.labels_),
                 centers=np.asarray(model.cluster_centers_))
        print(f"wrote labels and centers to {args.output}")
    return 0
