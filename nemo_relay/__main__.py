"""``python -m nemo_relay``: see nemo_relay.cli."""

import sys

from .cli import main

sys.exit(main())
