"""Skill-gap connector: performance reviews → LMS courses → development goals → evidence."""

__version__ = "0.1.0"
