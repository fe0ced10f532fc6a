import sys

from raygan.report.cli import main

sys.exit(main())
