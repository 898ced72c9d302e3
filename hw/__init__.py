"""Amaranth HDL accelerator: PE arrays, patch buffers, BN/ReLU, FC, buffers, sequencer."""
