import sys

from genesys_pulse.cli import main

sys.exit(main())
