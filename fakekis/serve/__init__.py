"""The asyncio shells: the WebSocket server and the player that paces the tape (`server`, `player`), the REST
app (`rest`) with KIS's header casing (`headers`) and rest.yaml replay (`replay`), the loopback listener
with TCP_NODELAY (`listen`), and the recording proxy (`proxy`).

They move text between sockets and the sans-I/O cores in `wire`, `exchange`, `tape` and `faults`; the rules
live there, not here.
"""
