import sys

from ocr_worker.cli import main

sys.exit(main())
