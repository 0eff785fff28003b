from xgdbvm.cli import main
import sys

sys.exit(main())
