"""The kernel: plain values shared by every layer (results, pointers, lifecycle, revisions, ids).

It imports only the standard library and ``dataquarantine.errors``.
"""
