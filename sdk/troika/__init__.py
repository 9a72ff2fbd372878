"""troika: the Python SDK for the data economy on EVM chains."""

from troika._errors import TroikaError
from troika._version import __version__

__all__ = ["TroikaError", "__version__"]
