"""nbgrader's configuration for this course: `nbgrader ...`, the Lab extensions and `python -m grader`.

solutions/ is the source directory, notebooks/ the release directory; submissions, feedback and
the gradebook go to the working course folder course/ (git-ignored). The gradebook URL is left to
nbgrader's default, sqlite in the course folder, so that it follows --course-dir.

`python -m grader` reads this file as stock nbgrader does (from the folder it runs in, and from the
course folder), so a course may add its own settings here or in <course folder>/nbgrader_config.py:
a late penalty (c.LateSubmissionPlugin.penalty_method = "zero", or c.AssignLatePenalties.plugin_class),
a PostgreSQL gradebook (c.CourseDirectory.db_url = "postgresql://..."), another course id.
"""

from grader.pipeline.course import repository_config

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.merge(repository_config())
