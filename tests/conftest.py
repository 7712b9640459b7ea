"""Shared test set-up: one torch thread and fixed seeds for every test."""

import pytest

import vgcourse


@pytest.fixture(autouse=True)
def _reproducible():
    vgcourse.setup(seed=0)
