"""The local engine, from the client side: find, start and stop it (launcher) and ask its own
API for the local profile's keys (keys). The engine never imports this package; what both sides
read and write on disk is engine_record's."""
