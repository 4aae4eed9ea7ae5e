"""The bottom layer every stage may import: file safety, box geometry, provenance, quiet native logs.
It imports nothing else from edge_digits but config, and nothing heavy."""
