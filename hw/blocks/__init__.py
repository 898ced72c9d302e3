"""The building blocks: PEs, buffers, BN, FC and stream primitives, each a component with its own latency."""
