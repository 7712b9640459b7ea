"""Tools for the course's authors and instructors, never imported by its learners.

- :mod:`vgcourse.authoring.assign`: student editions (``python -m vgcourse.authoring.assign``,
  ``make student``) and the nbgrader metadata of answer cells;
- :mod:`vgcourse.authoring.syllabus`: what each chapter teaches, read from the notebooks;
- :mod:`vgcourse.authoring.grading`: the nbgrader course (``python -m vgcourse.authoring.grading``,
  ``make nbgrader``), and :mod:`vgcourse.authoring.hidden_grader`, the grader its hidden tests
  load from the course directory;
- :mod:`vgcourse.authoring.sphinxext`: the Sphinx extension of the instructor guide's table,
  rubrics and the book's footer.

``import vgcourse`` does not import this subpackage, and this subpackage does not import Sphinx
until the extension is set up.
"""
