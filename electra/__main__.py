"""``python -m electra`` (what torchrun launches) is the ``electra`` command."""

import sys

from electra.cli import main

sys.exit(main())
