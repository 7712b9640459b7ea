"""Sphinx extension: the ``{course-overview}`` directive of the instructor guide, and the footer.

Add ``vgcourse.authoring.sphinxext`` to ``sphinx.extra_extensions`` in ``_config.yml``; then

````md
```{course-overview}
```
````

renders one table row per chapter notebook of the table of contents: its title with Colab
link, estimated study time and prerequisites, its learning objectives, and its exercises with
their self-check identifiers, all read from the notebooks by :mod:`vgcourse.authoring.syllabus`
(nothing is typed twice). A change to a notebook rebuilds the page. ``{grading-rubrics}``
renders the rubric of every open question, drafted from the solution texts by
:mod:`vgcourse.authoring.grading`. Every page's footer shows the package version
(``vgcourse.__version__``), a link to the changelog and the licences.
"""

from __future__ import annotations

from pathlib import Path

from . import syllabus

# Sphinx and docutils are imported only when Sphinx loads the extension (setup), so importing
# this module, e.g. for colab_link, does not need them.

HEADERS = ("Chapter, time, prerequisites", "Learning objectives", "Exercises (self-check)")
WIDTHS = (27, 43, 30)


def colab_link(options: dict, docname: str) -> str:
    """The Colab URL of a notebook, from the book's repository settings ("" if none)."""
    url = options.get("repository_url", "")
    if "github.com/" not in url:
        return ""
    colab = options.get("launch_buttons", {}).get("colab_url", "https://colab.research.google.com")
    branch = options.get("repository_branch", "main")
    folder = options.get("path_to_docs", "").strip("/")
    path = "/".join(p for p in (folder, f"{docname}.ipynb") if p)
    repository = url.split("github.com/")[1].strip("/")
    return f"{colab.rstrip('/')}/github/{repository}/blob/{branch}/{path}"


def _course_overview():
    """The directive class, built on first use so that Sphinx is imported only by Sphinx."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class CourseOverview(SphinxDirective):
        """One row per chapter: title, time and prerequisites; objectives; exercises."""

        has_content = False

        def _cell(self, markdown: str) -> nodes.entry:
            entry = nodes.entry()
            if markdown.strip():
                self.state.nested_parse(StringList(markdown.splitlines()), self.content_offset,
                                        entry)
            return entry

        def run(self):
            root = Path(self.env.srcdir)
            toc = getattr(self.config, "external_toc_path", None) or "_toc.yml"
            chapters = syllabus.chapters(root, toc)
            options = self.config.html_theme_options or {}
            for chapter in chapters:
                self.env.note_dependency(str(chapter.path))

            table = nodes.table(classes=["course-overview", "colwidths-given"])
            group = nodes.tgroup(cols=len(HEADERS))
            table += group
            for width in WIDTHS:
                group += nodes.colspec(colwidth=width)
            head = nodes.thead()
            row = nodes.row()
            for title in HEADERS:
                row += self._cell(f"**{title}**")
            head += row
            group += head
            body = nodes.tbody()
            for chapter in chapters:
                row = nodes.row()
                link = colab_link(options, chapter.docname)
                lines = [f"{{doc}}`{chapter.title} </{chapter.docname}>`", "",
                         f"about {chapter.minutes} min"]
                if link:
                    lines += ["", f"[Open in Colab]({link})"]
                if chapter.prerequisites:
                    lines += ["", f"*Prerequisites:* {chapter.prerequisites}"]
                row += self._cell("\n".join(lines))
                row += self._cell("\n".join(f"{i}. {o}" for i, o in
                                            enumerate(chapter.objectives, start=1)))
                row += self._cell("\n".join(
                    f"- {{ref}}`{e.title or e.label} <{e.label}>`"
                    + (": " + ", ".join(f"`{c}`" for c in e.checks) if e.checks
                       else " (discussion)")
                    for e in chapter.exercises if e.label))
                body += row
            group += body

            exercises = sum(len(c.exercises) for c in chapters)
            checked = sum(bool(e.checks) for c in chapters for e in c.exercises)
            hours = sum(c.minutes for c in chapters) / 60
            summary = nodes.paragraph(text=(
                f"{len(chapters)} chapter(s), {exercises} exercise(s) of which {checked} have an "
                f"instant self-check; about {hours:.1f} hours of study in all. Study time is "
                f"estimated as the chapter's prose read at {syllabus.WORDS_PER_MINUTE} words per "
                f"minute plus {syllabus.MINUTES_PER_EXERCISE} minutes per exercise, rounded up to "
                "5 minutes."))
            return [table, summary]

    return CourseOverview


def _grading_rubrics():
    """The ``{grading-rubrics}`` directive: the rubric of every open question, by chapter,
    drafted from the solution texts as ``make nbgrader`` writes them (nothing typed twice)."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    from . import grading

    class GradingRubrics(SphinxDirective):
        """One block per chapter with open questions: the chapter's title, then its rubrics."""

        has_content = False

        def run(self):
            root = Path(self.env.srcdir)
            toc = getattr(self.config, "external_toc_path", None) or "_toc.yml"
            container = nodes.container(classes=["grading-rubrics"])
            lines = []
            for path, rubrics in grading.rubrics(root, toc):
                self.env.note_dependency(str(path))
                if rubrics:
                    title = syllabus.read_chapter(path).title
                    docname = str(path.relative_to(root).with_suffix(""))
                    lines += [f"{{doc}}`{title} </{docname}>`", ""]
                    lines += [line for rubric in rubrics for line in (rubric + "\n").splitlines()]
            self.state.nested_parse(StringList(lines), self.content_offset, container)
            return [container]

    return GradingRubrics


def footer(options: dict, version: str) -> str:
    """The footer line of every page: the package version an instructor can pin a term to, a
    link to the changelog, and the licences (HTML)."""
    url = options.get("repository_url", "").rstrip("/")
    branch = options.get("repository_branch", "main")
    changelog = (f' · <a href="{url}/blob/{branch}/CHANGELOG.md">changelog</a>'
                 if "github.com/" in url else "")
    return (f"<p>vgcourse {version}{changelog} · text and figures "
            '<a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>, code MIT</p>')


def _add_footer(app, config) -> None:
    """Append :func:`footer` to the theme's ``extra_footer`` (Jupyter Book's ``html.extra_footer``),
    with the version read from the package, so it is written in one place only."""
    import vgcourse

    options = config.html_theme_options = dict(config.html_theme_options or {})
    options["extra_footer"] = (options.get("extra_footer") or "") + footer(options,
                                                                          vgcourse.__version__)


def setup(app):
    """Register the ``course-overview`` and ``grading-rubrics`` directives and the footer with
    the package version."""
    app.add_directive("course-overview", _course_overview())
    app.add_directive("grading-rubrics", _grading_rubrics())
    app.connect("config-inited", _add_footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
