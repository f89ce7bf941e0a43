import sys

from mist.cli import main

sys.exit(main())
