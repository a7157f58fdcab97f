"""Channels: one self-contained package each, found through ``decant.channels``."""
