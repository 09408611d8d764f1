"""vmx: the Velocimex command-line trading terminal."""

__version__ = "0.1.0"
