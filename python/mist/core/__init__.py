"""The core: the span buffer and its writer thread, configuration and process state (fork, exit,
flush, stats), non-span messages, and the one hook that hangs work off finished spans
(:mod:`.hooks`). ``backend`` picks the native or pure-Python encoder-and-buffer."""
