"""numpy fixed-point golden model: the bit-exact semantics of docs/design.md §6."""
