"""langlock: find and fix language confusion in large language models.

Importing the package is cheap on purpose: nothing heavy (torch, transformers, fastText models) is
imported or loaded until a function that needs it is called.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
