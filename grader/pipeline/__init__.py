"""The class pipeline around nbgrader: release, collect, autograde, feedback, export, report.

nbgrader stays the engine and the only writer of the gradebook; these modules put the
trusted runtime (:mod:`grader.runtime`) in front of it and read its results. Around them:
:mod:`~grader.pipeline.config` (the course's nbgrader configuration, read as stock nbgrader
reads it), :mod:`~grader.pipeline.grades` (what the gradebook says, read one way) and
:mod:`~grader.pipeline.lms` (what the LMS says: ids, times, roster, grade import files).
"""
