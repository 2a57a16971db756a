import sys

from automl_video.cli import main

sys.exit(main())
