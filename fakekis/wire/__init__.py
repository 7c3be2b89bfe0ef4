"""The KIS wire text, sans-I/O: the one parser and encoder of WebSocket messages (`frames`: requests, acks,
PINGPONG, `0|TR|NNN|...` data frames, AES-256-CBC for notices) and the scrubber that takes secrets out of
recorded text (`scrub`). Nothing here opens a socket or reads a clock.
"""
