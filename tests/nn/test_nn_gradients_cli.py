"""``fastseq gradients``: the norms of dLoss/dx_t come from fastseq's backward and equal torch's;
the ratio t=0 / t=T-1 shows the vanishing gradient; a bad --kind is a one-line error."""

import numpy as np
import pytest

from fastseq.cli import main
from fastseq.cli._gradients import gradient_norms


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_norms_equal_torch(rng, kind):
    ours, ref = gradient_norms(kind, 12, 3, 4, 5, int(rng.integers(1000)))
    assert ours.shape == (12,) and np.all(ours > 0)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_command_prints_every_kind_and_the_ratio(capsys, tmp_path):
    assert main(["gradients", "--kind", "rnn,lstm", "--time", "20", "--hidden", "8",
                 "--features", "4", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(lines) == {"rnn", "lstm"}
    for kind, cols in lines.items():
        norms, ratio, vs_torch = [float(c) for c in cols[1:-2]], float(cols[-2]), float(cols[-1])
        assert ratio == pytest.approx(norms[0] / norms[-1], rel=1e-3)
        assert vs_torch <= 1e-10
    assert "t=0 / t=T-1" in out


def test_bad_kind_is_an_error(capsys):
    assert main(["gradients", "--kind", "rnn,cnn"]) == 2
    assert "--kind" in capsys.readouterr().err
