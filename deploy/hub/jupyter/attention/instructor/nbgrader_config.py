"""nbgrader settings of an instructor's Jupyter server: which course folder the formgrader opens.

The instructor's course is a checkout of the course repository in their home folder,
``~/attention-course`` (or $ATTENTION_COURSE_CHECKOUT). Its own ``nbgrader_config.py``
says where everything is (solutions/ the source, notebooks/ the release, course/ the
submissions and the gradebook); this file loads it, so that the formgrader, whose server
starts in the home folder, finds the same course as the commands run in the checkout.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

checkout = os.path.expanduser(os.environ.get("ATTENTION_COURSE_CHECKOUT", "~/attention-course"))
load_subconfig(os.path.join(checkout, "nbgrader_config.py"))  # noqa: F821 - provided with get_config
