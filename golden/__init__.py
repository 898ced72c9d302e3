"""numpy fixed-point golden model: the bit-exact semantics of DESIGN §3."""
