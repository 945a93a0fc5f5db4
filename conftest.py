"""Workspace-wide pytest fixtures: real data from ../shared/data, skipped with a reason if absent."""

from __future__ import annotations

import pytest

from wx_utils.testdata import shared_data_file


@pytest.fixture
def shared_data():
    """Return a function mapping a file name in ../shared/data to its path, or skip the test."""

    def locate(name: str):
        try:
            return shared_data_file(name)
        except FileNotFoundError as error:
            pytest.skip(str(error))

    return locate
