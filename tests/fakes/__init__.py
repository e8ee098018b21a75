"""Local peers that speak the vendors' wire formats, so the real clients can be tested."""
