"""`python -m data` is the same as `python -m data.generate`."""

import sys

from data.generate import main

sys.exit(main())
