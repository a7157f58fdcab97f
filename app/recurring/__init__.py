"""Recurring campaigns: when each occurrence goes out (:mod:`.rules`)."""
