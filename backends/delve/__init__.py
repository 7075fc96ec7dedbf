"""Delve backend: gotui -> guard -> `dlv attach --headless` over JSON-RPC v2.

rpc.py      asyncio JSON-RPC client (and relay) for Delve's API v2
process.py  target checks before attaching; the dlv child process
guard.py    the process between gotui and dlv that releases the target if gotui dies
release.py  halt / flush queued SIGTRAP / detach sequence
rescue.py   puts back int3 bytes if dlv is killed
convert.py  Delve JSON -> model objects
channels.py channels and their buffers, read through Eval while halted
backend.py  DelveBackend (backends.base.StopBackend)
"""
