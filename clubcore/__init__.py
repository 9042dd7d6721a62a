"""The club's domain core, shared byte for byte by the terminal and the club server.

Pure Python with no I/O: money, tiers, pricing rules, points, card format and
signatures, wire models. Never imports Kivy, requests, SQLite or a web framework.
"""
