"""The accelerator top (the engines connected) and the catalog of blocks by name."""
