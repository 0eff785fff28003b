import sys

from xgdbvm.cli import main

sys.exit(main())
