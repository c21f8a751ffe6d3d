"""The sample campaign that ships with campaignkit, for the demo, the notebooks and ``init``.

>>> sample_path("recipients.xlsx").name
'recipients.xlsx'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_COUNTRIES", "SAMPLE_FILES", "sample_path"]

#: where the sample clinic's patients live: the countries its campaign may text
SAMPLE_COUNTRIES = ("US", "GB", "ES", "DE", "IN")
#: the files of the sample campaign
SAMPLE_FILES = ("recipients.xlsx", "recipients.csv", "message.txt", "campaign.toml")


def sample_path(name: str) -> Path:
    """The path of a sample file: packaged in an installed wheel, or the checkout's copy.

    Works from any working directory, so a notebook and a script use the same line.
    """
    if name not in SAMPLE_FILES:
        raise ValueError(f"{name!r} is not a sample file; choose one of {', '.join(SAMPLE_FILES)}")
    packaged = Path(__file__).parent / "sample_data" / name
    return packaged if packaged.is_file() else Path(__file__).parents[2] / "sample_data" / name
