"""nbgrader's configuration for this course: `nbgrader ...`, the Lab extensions and `python -m grader`.

solutions/ is the source directory, notebooks/ the release directory; submissions, feedback and
the gradebook go to the working course folder course/ (git-ignored). The gradebook URL is left to
nbgrader's default, sqlite in the course folder, so that it follows --course-dir.

`python -m grader` reads this file as stock nbgrader does (from the folder it runs in, and from the
course folder), so a course may add its own settings here or in <course folder>/nbgrader_config.py:
a late penalty (c.LateSubmissionPlugin.penalty_method = "zero", or c.AssignLatePenalties.plugin_class),
a PostgreSQL gradebook (c.CourseDirectory.db_url = "postgresql://..."), another course id.
"""

import sys
from pathlib import Path

# The grader package of this checkout, not another installed copy: `nbgrader` and the formgrader
# do not put the checkout on sys.path, and an installed `grader` would name its own folders.
_checkout = str(Path(__file__).resolve().parent)
if _checkout not in sys.path:
    sys.path.insert(0, _checkout)

from grader.pipeline.course import ensure_course_dir, nbgrader_environment, repository_config  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.merge(repository_config())
# The formgrader opens the sqlite gradebook in the course folder as soon as it lists assignments;
# sqlite cannot create it in a folder that does not exist yet (HTTP 500 "unable to open database file").
ensure_course_dir(c.CourseDirectory.root)
# It then runs the `alembic` command, which is not on PATH in a virtualenv used without activating it.
nbgrader_environment()
