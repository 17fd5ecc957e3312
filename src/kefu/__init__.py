"""kefu: open-source customer service for online shops."""

__version__ = "0.1.0"
