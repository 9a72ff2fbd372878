import sys

from troika.cli import main

sys.exit(main())
