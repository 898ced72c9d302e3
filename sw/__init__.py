"""PyTorch flow: MobileNet-v1 from the spec, QAT (Algorithm 1), kernel pruning, integer export."""
