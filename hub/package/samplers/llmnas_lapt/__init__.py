from .sampler import LAPTSampler

__all__ = ["LAPTSampler"]
