"""The host driver of the accelerator system (docs/host.md): :class:`host.driver.Driver` over a
:class:`host.transport.Transport` (PYNQ on the board: :mod:`host.board`; the simulated system:
``tb.host_transport``). Depends on :mod:`rrm` only."""
