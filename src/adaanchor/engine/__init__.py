"""Training and evaluation engine on PyTorch's own distributed engine (torchrun + DDP)."""
