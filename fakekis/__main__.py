import sys

from fakekis.cli import main

sys.exit(main())
