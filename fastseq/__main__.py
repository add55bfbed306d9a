"""``python -m fastseq ...``: the same command as the ``fastseq`` console script.

Only ``python -m fastseq`` runs this file; ``import fastseq`` does not import the CLI.
"""

import sys

from fastseq.cli import main

if __name__ == "__main__":
    sys.exit(main())
