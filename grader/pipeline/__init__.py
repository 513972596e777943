"""The class pipeline around nbgrader: release, collect, autograde, feedback, export, report.

nbgrader stays the engine and the only writer of the gradebook; these modules put the
trusted runtime (:mod:`grader.runtime`) in front of it and read its results.
"""
