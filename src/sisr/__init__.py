"""sisr-bench: reproducible single-image super-resolution studies."""

__version__ = "0.1.0"
