"""Where output goes and how it looks: I/O streams (TTY, colour, prompts) and data formats."""
