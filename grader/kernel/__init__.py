"""The kernel side: everything of the grader that a learner's kernel sees while a class is graded.

This folder is copied whole into the grading sandbox, next to the student package
``attention_course``; every other module of ``grader`` and all of ``attention_ref`` stay
outside (the sandbox's allow-list and the import blocker are derived from this folder). It
holds no reference computation, no case generator and no verdict: it runs the learner's
functions on inputs the trusted side wrote as data and records what they returned.
"""
