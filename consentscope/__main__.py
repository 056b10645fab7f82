import sys

from consentscope.cli import main

sys.exit(main())
