"""``python -m grader``: see :mod:`grader.cli`."""

import sys

if sys.argv[1:2] == ["autograde"]:
    # The grading workers' server imports the grader while this process does (grader.pipeline.workers).
    from .pipeline.workers import start_worker_server

    start_worker_server()

from .cli import main  # noqa: E402

sys.exit(main())
