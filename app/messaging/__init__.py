"""What every channel shares: audiences, templates, suppressions, the outbox engine."""
