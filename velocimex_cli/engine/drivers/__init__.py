"""What drives an engine besides its users: the market simulator and strategy deployments.

Drivers reach the core only through its public entry points (the same order entry as users);
the engine node (`engine/node.py`) builds them, steps them and stops them.
"""
