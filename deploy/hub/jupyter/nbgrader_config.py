"""nbgrader settings shared by every user of the machine: the exchange and the course id.

Install as /etc/jupyter/nbgrader_config.py (see deploy/hub/README.md). Every nbgrader
command and every Jupyter server on the machine reads it: the students' Assignment List
and Validate, the instructor's ``nbgrader release_assignment`` / ``collect`` /
``release_feedback`` and the formgrader.
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

#: The course id: the exchange keeps the course's files in <exchange root>/<course id>/.
c.CourseDirectory.course_id = "attention"
#: The exchange: a folder on the machine's own disk that every user can reach (not NFS:
#: nbgrader relies on permissions and timestamps that network file systems change).
c.Exchange.root = "/srv/nbgrader/exchange"
