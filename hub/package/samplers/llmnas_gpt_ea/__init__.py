from .sampler import GPTEASampler

__all__ = ["GPTEASampler"]
