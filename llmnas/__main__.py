"""``python -m llmnas``: the ``llmnas`` command (:mod:`llmnas.app.cli`)."""

import sys

from llmnas.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
