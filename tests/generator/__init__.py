"""Tests of the demo fleet generator (data/)."""
