"""Conversions between the SDK's models and the generated wire messages.

These modules, and ``rivers._proto`` itself, are the only code that imports ``*_pb2``; the rest
of rivers calls ``to_proto()`` / ``from_proto()`` on its models, which import from here lazily
so that ``import rivers`` stays light.

Every ``x_to_proto`` / ``x_from_proto`` pair round-trips exactly: ``from_proto(to_proto(m)) ==
m``, dictionaries keep their order (the snapshot id hashes it) and JSON keeps ints apart from
floats.
"""
