"""The instructor demo: the whole grading pipeline on a synthetic class (``make demo``).

Not part of any distribution: it runs from a checkout of the course.
"""
