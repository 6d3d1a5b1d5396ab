"""``python -m reportupdater`` is the ``reportupdater`` command."""

import sys

from .cli import main

sys.exit(main())
