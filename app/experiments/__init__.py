"""A/B tests: how the winner of a campaign's variants is decided (:mod:`.decision`)."""
