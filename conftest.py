"""Repository-wide pytest set-up for nbval (unit-test fixtures live in tests/conftest.py)."""


def pytest_collection_modifyitems(items):
    """nbval compares the cells marked NBVAL_CHECK_OUTPUT with the outputs stored in the
    notebook. It must compare what a cell prints, not its stderr: progress bars carry timings
    and warnings carry the kernel's temporary file names, which differ between two runs."""
    for item in items:
        parent = item.parent
        skip = getattr(parent, "skip_compare", None)
        if skip is not None and "stderr" not in skip:
            parent.skip_compare = skip + ("stderr",)
