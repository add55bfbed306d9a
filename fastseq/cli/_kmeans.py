"""``fastseq kmeans INPUT -k K``: cluster a .npy or .csv file and save labels and centers.

A .npy file is opened as a memmap, so files larger than memory are read chunk by chunk.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def load_matrix(path: str):
    """A 2-D array from .npy (memory-mapped) or .csv (a header line is skipped)."""
    if not os.path.exists(path):
        raise ValueError(f"INPUT: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"INPUT: expected a .npy or .csv file, got the directory {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        X = _load_npy(path)
    elif ext in (".csv", ".txt"):
        X = _load_csv(path)
    else:
        raise ValueError(f"INPUT: expected a .npy or .csv file, got {path!r}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"INPUT: expected a 2-D table (rows x features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"INPUT: no data in {path} (shape {X.shape})")
    return X


def _load_npy(path):
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise ValueError(f"INPUT: cannot read {path} ({exc.strerror or exc})") from None
    if magic != b"\x93NUMPY":
        raise ValueError(f"INPUT: {path} is not a NumPy .npy file (no .npy header)")
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"INPUT: cannot read {path} as .npy ({exc})") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(f"INPUT: expected numbers in {path}, got dtype {X.dtype}")
    return X


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _load_csv(path):
    """Comma-separated numbers; a first line that is not all numbers is a header and skipped."""
    import warnings
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = f.readline()
    except OSError as exc:
        raise ValueError(f"INPUT: cannot read {path} ({exc.strerror or exc})") from None
    header = bool(first.strip()) and not all(_is_number(v) for v in first.strip().split(","))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file: reported below, in one line
            X = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(header), dtype=np.float64,
                           encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"INPUT: cannot parse {path} as numeric CSV ({detail})") from None
    except OSError as exc:
        raise ValueError(f"INPUT: cannot read {path} ({exc.strerror or exc})") from None
    if X.size == 0:
        raise ValueError(f"INPUT: no numeric rows in {path}")
    return X


def check_output(path):
    """Fail before fitting, naming -o, when the .npz cannot be written."""
    if path is None:
        return None
    if not path.endswith(".npz"):
        path += ".npz"  # what np.savez would write
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"-o: no such directory: {os.path.dirname(path) or '.'}")
    if os.path.isdir(path):
        raise ValueError(f"-o: {path} is a directory")
    # try it: os.access says yes to root on a read-only filesystem or a pseudo-filesystem
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise ValueError(f"-o: cannot write {path} ({exc.strerror or exc})") from None
    if not existed:
        os.remove(path)
    return path


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second.

    It is the estimators' ``_progress_callback``: called as ``bar(iteration, inertia)`` after each
    Lloyd iteration (KMeans; the count restarts at 1 for each of the ``n_init`` runs) or each
    mini-batch step (MiniBatchKMeans). Drawn only when ``enabled`` (stderr is a terminal, or
    ``--progress``) and, for a terminal, only once the fit has run ``delay`` seconds, so short fits
    print nothing. ``total`` is the most iterations (steps) one run may take.
    """

    def __init__(self, total: int, enabled: bool, unit: str = "iter", runs: int = 1,
                 delay: float = 0.0, stream=None):
        self.total, self.enabled, self.unit = max(1, int(total)), enabled, unit
        self.runs, self.delay = max(1, int(runs)), delay
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.run, self.last_iteration, self.inertia = 1, 0, float("nan")
        self.drawn, self.next_draw = False, self.start + delay

    def __call__(self, iteration: int, inertia: float) -> None:
        if iteration < self.last_iteration:  # the next of n_init runs started
            self.run += 1
        self.last_iteration, self.inertia = iteration, inertia
        if self.enabled and time.perf_counter() >= self.next_draw:
            self.draw()

    def draw(self) -> None:
        now = time.perf_counter()
        self.next_draw = now + 0.1
        width = 30
        done = min(width, int(width * self.last_iteration / self.total))
        runs = f"run {self.run}/{self.runs} " if self.runs > 1 else ""
        self.stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {runs}{self.unit} "
                          f"{self.last_iteration}/{self.total} inertia {self.inertia:.6g} "
                          f"{now - self.start:.1f}s ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Draw the final state (when anything was drawn) and end the line."""
        if self.drawn:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()


def run(args) -> int:
    import fastseq
    from .._backend import to_host
    X = load_matrix(args.input)
    n = X.shape[0]
    if args.k > n:
        raise ValueError(f"-k: expected k <= {n:,} (the number of rows in {args.input}), "
                         f"got {args.k:,}")
    output = check_output(args.output)
    forced = bool(args.progress)
    show = forced or _isatty(sys.stderr)
    if args.minibatch:
        model = fastseq.MiniBatchKMeans(n_clusters=args.k, n_init=args.n_init,
                                        random_state=args.seed, device=args.device)
        # MiniBatchKMeans calls back after every step: max_iter passes of n // batch_size steps
        total = max(1, model.max_iter * n // min(model.batch_size, n))
        bar = ProgressBar(total, show, unit="step", delay=0.0 if forced else 0.5)
    else:
        model = fastseq.KMeans(n_clusters=args.k, n_init=args.n_init, random_state=args.seed,
                               device=args.device)
        bar = ProgressBar(model.max_iter, show, unit="iter", runs=args.n_init,
                          delay=0.0 if forced else 0.5)
    model._progress_callback = bar
    start = time.perf_counter()
    try:
        model.fit(X)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    kind = "MiniBatchKMeans" if args.minibatch else "KMeans"
    print(f"{kind}: {n:,} rows x {X.shape[1]} features, k={args.k}, device={model.device_}")
    print(f"inertia     {model.inertia_:.6g}")
    if args.minibatch:
        print(f"iterations  {model.n_iter_} (passes over the data; {model.n_steps_:,} mini-batch "
              f"steps of {min(model.batch_size, n):,} rows)")
    else:
        print(f"iterations  {model.n_iter_}")
    print(f"time        {elapsed:.3f} s")
    if output:
        np.savez(output, labels=to_host(model.labels_), centers=to_host(model.cluster_centers_))
        print(f"wrote labels and centers to {output}")
    return 0


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
