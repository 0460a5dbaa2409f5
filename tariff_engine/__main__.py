"""`python -m tariff_engine`: see `tariff_engine.cli`."""

import sys

from .cli import main

sys.exit(main())
