"""Generation: prompt in, image and metadata out.

Pure by design: no HTTP server, no database, no storage. The delivery service
stores what this package returns; this package never imports ``delivery``.
"""
