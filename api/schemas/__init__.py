"""Request and response models of the API (the store's tables stay out of the wire format)."""
