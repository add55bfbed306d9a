"""``python -m fastseq.cli ...``: the same command as the ``fastseq`` console script."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
