"""`python -m cli`: the `scisynth` command."""

import sys

from cli.main import main

sys.exit(main())
