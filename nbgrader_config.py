"""nbgrader's configuration for this course: `nbgrader ...` and the Lab extensions run from here.

solutions/ is the source directory, notebooks/ the release directory; submissions,
feedback and the gradebook go to the working course folder course/ (git-ignored).
The settings are made in grader/course.py, which `python -m grader` uses too.
"""

from grader.course import nbgrader_config

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.merge(nbgrader_config())
