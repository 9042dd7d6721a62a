"""The club terminal: checkout, readers, CLI and the Kivy app around the domain core."""
