"""`python -m common.ops <command>`: the operator commands of `common.ops.cli`."""

import sys

from common.ops.cli import main

sys.exit(main())
